/**
 * matrix-js-sdk (Element's SDK) living on Doorstep: register, password login, a PREPARED
 * sync, rooms, invites, messages, account data and display names (issue: Client-Server API).
 */
import { ClientEvent, EventType, MsgType, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import { registerUser } from '../helpers/client';
import { sdkClient, startAndSync, waitFor } from '../helpers/sdk';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let alice: MatrixClient;
let bob: MatrixClient;

beforeAll(async () => {
  s = await startTestServer();
  await registerUser(s.url, 'alice', 'alice-password');
  await registerUser(s.url, 'bob', 'bob-password');
  // Log in with a password through the SDK, as Element does.
  const login = async (user: string, password: string) => {
    const anon = sdkClient(s.url);
    const flows = await anon.loginFlows();
    expect(flows.flows.map((f) => f.type)).toContain('m.login.password');
    const res = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });
    expect(res.device_id).toBeTruthy();
    return sdkClient(s.url, { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
  };
  alice = await login('alice', 'alice-password');
  bob = await login('@bob:localhost', 'bob-password');
  await startAndSync(alice);
  await startAndSync(bob);
});

afterAll(async () => {
  alice?.stopClient();
  bob?.stopClient();
  await s?.stop();
});

describe('matrix-js-sdk', () => {
  it('reaches PREPARED and sees /versions with v1.1', async () => {
    const versions = await alice.getVersions();
    expect(versions.versions).toContain('v1.1');
  });

  it('creates a room, invites, joins and exchanges messages', async () => {
    const { room_id: roomId } = await alice.createRoom({ name: 'SDK room', preset: 'private_chat' as any });
    await waitFor(() => alice.getRoom(roomId)?.getMyMembership() === 'join', 'alice joined');
    await alice.invite(roomId, '@bob:localhost');
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'bob sees the invite');
    expect(bob.getRoom(roomId)!.name).toBe('SDK room');
    await bob.joinRoom(roomId);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'join', 'bob joined');
    await waitFor(() => alice.getRoom(roomId)?.getMember('@bob:localhost')?.membership === 'join', 'alice sees bob join');

    const received = new Promise<MatrixEvent>((resolve) => {
      const onTimeline = (ev: MatrixEvent) => {
        if (ev.getRoomId() === roomId && ev.getType() === 'm.room.message' && ev.getSender() === '@alice:localhost') {
          bob.off('Room.timeline' as any, onTimeline);
          resolve(ev);
        }
      };
      bob.on('Room.timeline' as any, onTimeline);
    });
    const sent = await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hello bob' });
    const ev = await received;
    expect(ev.getId()).toBe(sent.event_id);
    expect(ev.getContent().body).toBe('hello bob');

    await bob.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hi alice' });
    await waitFor(
      () => alice.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'hi alice'),
      'alice receives the reply',
    );
    // Alice's own message came back with its transaction ID, so the SDK reconciled its local
    // echo: exactly one copy, with the server's event ID and no pending status.
    const mine = await waitFor(() => {
      const copies = alice.getRoom(roomId)!.getLiveTimeline().getEvents().filter((e) => e.getContent().body === 'hello bob');
      return copies.length === 1 && copies[0]!.getId() === sent.event_id && copies[0]!.status === null ? copies : undefined;
    }, 'alice local echo reconciled');
    expect(mine[0]!.getUnsigned().transaction_id).toBeTruthy();
  });

  it('sets account data and the promise resolves through the /sync echo', async () => {
    await alice.setAccountData('org.example.settings' as any, { theme: 'dark' } as any);
    expect(alice.getAccountData('org.example.settings' as any)?.getContent()).toEqual({ theme: 'dark' });
  });

  it('changes the display name and the room member event follows', async () => {
    const { room_id: roomId } = await alice.createRoom({ name: 'Names' });
    await waitFor(() => alice.getRoom(roomId), 'room');
    await alice.setDisplayName('Alice Liddell');
    expect((await alice.getProfileInfo('@alice:localhost')).displayname).toBe('Alice Liddell');
    await waitFor(() => alice.getRoom(roomId)?.getMember('@alice:localhost')?.name === 'Alice Liddell', 'member name updated');
  });

  it('emits sync events without errors while idle (long-poll, no busy loop)', async () => {
    let syncs = 0;
    const count = () => syncs++;
    alice.on(ClientEvent.Sync, count);
    await new Promise((r) => setTimeout(r, 500));
    alice.off(ClientEvent.Sync, count);
    // A long-polling server answers at most a handful of times in 0.5 s of idleness.
    expect(syncs).toBeLessThan(5);
    expect(EventType.RoomMessage).toBe('m.room.message');
  });
});
