/** Tiny local ID helpers (the full grammar lives in src/core/ids.ts, not a dependency here). */

/** The server name of a user, room or (v1–v2) event ID: the text after the first ':'. */
export function serverNameOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

/**
 * "valid user IDs" for the power-levels `users` keys: `@localpart:server`, at most 255 characters.
 * Historical localparts are accepted (rooms may hold them), so only the shape is checked.
 */
export function isValidUserId(id: string): boolean {
  if (id.length > 255 || !id.startsWith('@')) return false;
  const i = id.indexOf(':');
  return i > 0 && i < id.length - 1;
}
