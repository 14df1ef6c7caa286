/** relayRemoteError (docs/design.md §3.2: remote errors are relayed only from an allow-list). */
import { MatrixError } from '../../../src/errors';
import { RemoteError, UnreachableError } from '../../../src/fedclient/client';
import { relayRemoteError } from '../../../src/services/federation/remote-errors';

describe('relayRemoteError', () => {
  it('relays an allow-listed errcode with the remote 4xx status (403 stays 403)', () => {
    const e = relayRemoteError(new RemoteError('a.test', 403, 'M_FORBIDDEN', 'You are banned', {}), 'knock');
    expect(e).toBeInstanceOf(MatrixError);
    expect([e.status, e.errcode, e.message]).toEqual([403, 'M_FORBIDDEN', 'You are banned']);
  });

  it('keeps room_version of M_INCOMPATIBLE_ROOM_VERSION', () => {
    const e = relayRemoteError(new RemoteError('a.test', 400, 'M_INCOMPATIBLE_ROOM_VERSION', 'no', { room_version: '6' }), 'knock');
    expect(e.body()).toMatchObject({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', room_version: '6' });
    expect(e.status).toBe(400);
  });

  it('turns an errcode outside the allow-list into 502 M_UNKNOWN', () => {
    const e = relayRemoteError(new RemoteError('a.test', 401, 'M_UNKNOWN_TOKEN', 'x', {}), 'join');
    expect([e.status, e.errcode]).toEqual([502, 'M_UNKNOWN']);
    expect(e.message).toMatch(/^Failed to join via any server/);
  });

  it('turns an unreachable server into 502 M_UNKNOWN', () => {
    const e = relayRemoteError(new UnreachableError('a.test', 'connect ECONNREFUSED'), 'knock');
    expect([e.status, e.errcode]).toEqual([502, 'M_UNKNOWN']);
  });

  it('never relays a 5xx status, even with an allow-listed errcode', () => {
    const e = relayRemoteError(new RemoteError('a.test', 500, 'M_NOT_FOUND', 'odd', {}), 'knock');
    expect(e.status).toBe(404);
  });
});
