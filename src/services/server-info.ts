/**
 * What the server says about itself: /capabilities (spec: client-server-api "Capabilities
 * negotiation", capabilities.yaml) and the .well-known discovery documents (spec:
 * client-server-api "Well-known URIs", wellknown.yaml; server-server-api "Resolving
 * server names", server-server-api/wellknown.yaml).
 */
import { createHmac } from 'node:crypto';
import type { Config } from '../config';
import { parseServerName, parseUserId } from '../core/ids';
import { notFound } from '../errors';
import { SUPPORTED_ROOM_VERSIONS } from '../core/room-versions';
import type { JsonObject } from '../core/types';
import { PROFILE_FIELDS } from './profile';

export interface ServerInfoService {
  capabilities(): { capabilities: JsonObject };
  /** GET /.well-known/matrix/client. */
  wellKnownClient(): JsonObject;
  /** GET /.well-known/matrix/server. */
  wellKnownServer(): { 'm.server': string };
  /**
   * GET /.well-known/matrix/support (support.yaml, v1.10), from `admin_contact`; 404 M_NOT_FOUND
   * when it is not configured (the yaml's answer for "no support information").
   */
  support(): SupportAnswer;
  /** GET /voip/turnServer for `userId`: `{username, password, uris, ttl}`, or `{}` when no TURN is configured. */
  turnServer(userId: string): TurnServerAnswer | Record<string, never>;
}

/** support.yaml's answer: at least one of `contacts` and `support_page`. */
export interface SupportAnswer {
  contacts?: Array<{ role: string; email_address?: string; matrix_id?: string }>;
  support_page?: string;
}

/**
 * Synapse has no support document of its own (element-hq/synapse#18319 asks for one), but it has
 * `admin_contact`, the server administrator's address it puts in some error messages. Doorstep
 * publishes that: a `mailto:` URI as an admin e-mail contact, a Matrix user ID as an admin
 * `matrix_id`, an http(s) URL as the `support_page`; anything else publishes nothing.
 */
export function supportFromAdminContact(adminContact: string | undefined): SupportAnswer | undefined {
  const c = adminContact?.trim();
  if (!c) return undefined;
  if (/^mailto:/i.test(c)) {
    const raw = c.slice('mailto:'.length).split('?')[0]!;
    let address = raw;
    try {
      address = decodeURIComponent(raw);
    } catch {
      /* not %-encoded: as written */
    }
    return address ? { contacts: [{ role: 'm.role.admin', email_address: address }] } : undefined;
  }
  if (c.startsWith('@') && parseUserId(c)) return { contacts: [{ role: 'm.role.admin', matrix_id: c }] };
  if (/^https?:\/\/\S+$/i.test(c)) return { support_page: c };
  return undefined;
}

/** voip.yaml's answer: all four fields are required. */
export interface TurnServerAnswer {
  username: string;
  password: string;
  uris: string[];
  /** Seconds the credentials stay valid. */
  ttl: number;
}

/**
 * Time-limited TURN credentials for `userId` as Synapse mints them (the TURN REST API scheme coturn
 * checks with `use-auth-secret`): username `<expiry, Unix seconds>:<user ID>`, password the
 * standard base64 of HMAC-SHA1(secret, username).
 */
export function turnCredentials(secret: string, userId: string, expiresAtMs: number): { username: string; password: string } {
  const username = `${Math.floor(expiresAtMs / 1000)}:${userId}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

export function createServerInfoService(deps: { config: Config; now?: () => number }): ServerInfoService {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  return {
    capabilities: () => ({
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': {
          default: config.defaultRoomVersion,
          available: Object.fromEntries(SUPPORTED_ROOM_VERSIONS.map((v) => [v, 'stable'])),
        },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        // Only the two stored fields can be changed (services/profile.ts); without this, a
        // client of a v1.16+ server would assume any custom field can be set.
        'm.profile_fields': { enabled: true, allowed: [...PROFILE_FIELDS] },
        'm.3pid_changes': { enabled: false },
        'm.get_login_token': { enabled: false },
      },
    }),

    support: () => {
      const answer = supportFromAdminContact(config.adminContact);
      if (!answer) throw notFound('No support information is published for this server');
      return answer;
    },

    wellKnownClient: () => ({ 'm.homeserver': { base_url: config.publicBaseUrl } }),

    /**
     * A peer fetches this document only for a server name without an explicit port, from
     * https://<hostname>/.well-known/matrix/server (port 443), and then connects to the
     * delegated `host:port` with TLS. So the answer names:
     * - the server name itself when it carries a port (peers use it directly anyway);
     * - otherwise the port of the first TLS federation listener, where peers reach
     *   Doorstep's own TLS directly;
     * - otherwise (no TLS listener: a reverse proxy terminates TLS) port 443, the port
     *   through which the peer just fetched this document, i.e. the proxy.
     */
    wellKnownServer: () => {
      const parsed = parseServerName(config.serverName);
      if (!parsed || parsed.port !== null) return { 'm.server': config.serverName };
      const tls = config.listeners.find((l) => l.tls && l.resources.has('federation') && l.port !== 0);
      return { 'm.server': `${parsed.host}:${tls ? tls.port : 443}` };
    },

    /**
     * As Synapse: with `turn_uris` and `turn_shared_secret`, credentials minted for the user;
     * else with `turn_uris`, `turn_username` and `turn_password`, those; else `{}` (no TURN
     * server: voip.yaml's required fields describe a configured one, and matrix-js-sdk takes a
     * body without `uris` as "none").
     */
    turnServer: (userId) => {
      const t = config.turn;
      if (t.uris.length === 0 || t.userLifetimeMs <= 0) return {};
      const ttl = Math.floor(t.userLifetimeMs / 1000);
      if (t.sharedSecret !== undefined) {
        return { ...turnCredentials(t.sharedSecret, userId, now() + t.userLifetimeMs), uris: [...t.uris], ttl };
      }
      if (t.username !== undefined && t.password !== undefined) {
        return { username: t.username, password: t.password, uris: [...t.uris], ttl };
      }
      return {};
    },
  };
}
