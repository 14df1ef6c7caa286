/**
 * Knocking through matrix-js-sdk (what Element uses): the knocker sees getMyMembership()
 * === "knock" with the room name and join rule from knock_state; the moderator sees the
 * knocker via getMembersWithMembership("knock"); accept, deny and rescind flow through.
 */
import type { MatrixClient } from 'matrix-js-sdk';
import { registerUser } from '../helpers/client';
import { sdkClient, startAndSync, waitFor } from '../helpers/sdk';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let mod: MatrixClient;
let knocker: MatrixClient;
const KNOCKER = '@knocker:localhost';

beforeAll(async () => {
  s = await startTestServer();
  mod = sdkClient(s.url, await registerUser(s.url, 'mod'));
  knocker = sdkClient(s.url, await registerUser(s.url, 'knocker'));
  await knocker.setDisplayName('Knocking User');
  await startAndSync(mod);
  await startAndSync(knocker);
});

afterAll(async () => {
  mod?.stopClient();
  knocker?.stopClient();
  await s?.stop();
});

async function knockRoom(name: string): Promise<string> {
  const { room_id: roomId } = await mod.createRoom({
    name,
    room_version: '11',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  } as any);
  await waitFor(() => mod.getRoom(roomId)?.getMyMembership() === 'join', 'moderator in room');
  return roomId;
}

describe('matrix-js-sdk knocking', () => {
  it('shows the knocker a knocked room with its name and join rule from knock_state', async () => {
    const roomId = await knockRoom('Ask first');
    await knocker.knockRoom(roomId, { reason: 'let me in', viaServers: ['localhost'] });
    const room = await waitFor(() => {
      const r = knocker.getRoom(roomId);
      return r?.getMyMembership() === 'knock' ? r : undefined;
    }, 'knocked room in the knocker client');
    expect(room.name).toBe('Ask first');
    expect(room.getJoinRule()).toBe('knock');
  });

  it('shows the moderator the knocker through getMembersWithMembership("knock")', async () => {
    const roomId = await knockRoom('Moderated');
    await knocker.knockRoom(roomId, { reason: 'hello' });
    const member = await waitFor(
      () => mod.getRoom(roomId)?.getMembersWithMembership('knock').find((m) => m.userId === KNOCKER),
      'knock member on the moderator side',
    );
    expect(member.events.member?.getContent()).toMatchObject({ membership: 'knock', reason: 'hello', displayname: 'Knocking User' });
    expect(member.name).toBe('Knocking User');
  });

  it('moves the knocker to invite when accepted, and into the room on join', async () => {
    const roomId = await knockRoom('Accepting');
    await knocker.knockRoom(roomId);
    await waitFor(() => mod.getRoom(roomId)?.getMember(KNOCKER)?.membership === 'knock', 'moderator sees knock');
    await mod.invite(roomId, KNOCKER);
    await waitFor(() => knocker.getRoom(roomId)?.getMyMembership() === 'invite', 'knocker invited');
    await knocker.joinRoom(roomId);
    await waitFor(() => knocker.getRoom(roomId)?.getMyMembership() === 'join', 'knocker joined');
    await waitFor(() => mod.getRoom(roomId)?.getMember(KNOCKER)?.membership === 'join', 'moderator sees join');
  });

  it('lets the moderator deny a knock, which the knocker sees as a leave by someone else after a knock', async () => {
    const roomId = await knockRoom('Denying');
    await knocker.knockRoom(roomId);
    await waitFor(() => mod.getRoom(roomId)?.getMember(KNOCKER)?.membership === 'knock', 'moderator sees knock');
    await mod.kick(roomId, KNOCKER);
    const room = await waitFor(() => {
      const r = knocker.getRoom(roomId);
      return r?.getMyMembership() === 'leave' ? r : undefined;
    }, 'knocker sees the denial');
    const ev = room.currentState.getStateEvents('m.room.member', KNOCKER)!;
    expect(ev.getSender()).toBe('@mod:localhost');
    expect(ev.getPrevContent().membership).toBe('knock');
  });

  it('lets the knocker rescind, which the moderator sees as a leave', async () => {
    const roomId = await knockRoom('Rescinding');
    await knocker.knockRoom(roomId);
    await waitFor(() => knocker.getRoom(roomId)?.getMyMembership() === 'knock', 'knocked');
    await knocker.leave(roomId);
    await waitFor(() => mod.getRoom(roomId)?.getMember(KNOCKER)?.membership === 'leave', 'moderator sees rescind');
    expect(mod.getRoom(roomId)!.getMembersWithMembership('knock')).toHaveLength(0);
  });

  it('refuses joinRoom on a knock room with 403 (what makes Element offer "Ask to join")', async () => {
    const roomId = await knockRoom('No entry');
    await expect(knocker.joinRoom(roomId)).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
  });
});
