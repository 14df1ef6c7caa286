/**
 * The room's server ACL applied to a requesting server (spec: server-server-api "Server Access
 * Control Lists (ACLs)"): read from the current m.room.server_acl, judged by core/server-acl.
 */
import { serverAllowedByAcl } from '../../core/server-acl';
import { forbidden } from '../../errors';
import type { Store } from '../../storage/store';

/** Whether `server` may take part in `roomId` (true for rooms we do not hold, or without an ACL). */
export function serverAllowedInRoom(store: Store, roomId: string, server: string): boolean {
  const id = store.getCurrentStateEventId(roomId, 'm.room.server_acl', '');
  if (!id) return true;
  const ev = store.getEvent(id);
  return serverAllowedByAcl(ev?.pdu.content, server);
}

/** 403 M_FORBIDDEN when the room's ACL denies `server` (the protected endpoints). */
export function requireServerAllowed(store: Store, roomId: string, server: string): void {
  if (!serverAllowedInRoom(store, roomId, server)) throw forbidden(`Server ${server} is denied by the room's server ACL`);
}
