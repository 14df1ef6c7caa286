/**
 * Server ACLs (spec: client-server-api "Server Access Control Lists (ACLs) for rooms",
 * m.room.server_acl; server-server-api "Server Access Control Lists (ACLs)"): whether a server
 * may take part in a room, from the room's m.room.server_acl content. Pure.
 */
import type { JsonObject } from './types';

/** appendices "Glob-style matching": `*` any run of characters, `?` exactly one. Whole string. */
export function globToRegExp(glob: string): RegExp {
  let src = '';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[\\^$.+()|[\]{}]/g, '\\$&');
  }
  // Host names compare case-insensitively (DNS), as Synapse matches ACL entries.
  return new RegExp(`^${src}$`, 'is');
}

/** The host part of a server name: the port never takes part in ACL matching. */
export function hostOf(serverName: string): string {
  if (serverName.startsWith('[')) {
    const end = serverName.indexOf(']');
    return end > 0 ? serverName.slice(0, end + 1) : serverName;
  }
  const colon = serverName.lastIndexOf(':');
  return colon >= 0 ? serverName.slice(0, colon) : serverName;
}

const isIpLiteral = (host: string) => host.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);

/**
 * The spec's order: no ACL → allow; an IP literal when allow_ip_literals is false → deny; a deny
 * match → deny; an allow match → allow; otherwise deny. `acl` is the event's content, or
 * undefined when the room has none. Entries that are not strings are ignored.
 */
export function serverAllowedByAcl(acl: JsonObject | undefined, serverName: string): boolean {
  if (!acl) return true;
  const host = hostOf(serverName);
  if (acl.allow_ip_literals === false && isIpLiteral(host)) return false;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  if (list(acl.deny).some((g) => globToRegExp(g).test(host))) return false;
  return list(acl.allow).some((g) => globToRegExp(g).test(host));
}
