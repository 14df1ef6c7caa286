/**
 * Client-Server routes are served under /_matrix/client/v3 and its r0 alias (the seed and
 * older clients use r0).
 */
export function clientPaths(suffix: string): string[] {
  return [`/_matrix/client/v3${suffix}`, `/_matrix/client/r0${suffix}`];
}
