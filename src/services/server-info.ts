/**
 * What the server says about itself: /capabilities (spec: client-server-api "Capabilities
 * negotiation", capabilities.yaml) and the .well-known discovery documents (spec:
 * client-server-api "Well-known URIs", wellknown.yaml; server-server-api "Resolving
 * server names", server-server-api/wellknown.yaml).
 */
import type { Config } from '../config';
import { parseServerName } from '../core/ids';
import { SUPPORTED_ROOM_VERSIONS } from '../core/room-versions';
import type { JsonObject } from '../core/types';
import { PROFILE_FIELDS } from './profile';

export interface ServerInfoService {
  capabilities(): { capabilities: JsonObject };
  /** GET /.well-known/matrix/client. */
  wellKnownClient(): JsonObject;
  /** GET /.well-known/matrix/server. */
  wellKnownServer(): { 'm.server': string };
}

export function createServerInfoService(deps: { config: Config }): ServerInfoService {
  const { config } = deps;
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
  };
}
