/**
 * m.room.canonical_alias naming another server's aliases (client-server-api
 * `m.room.canonical_alias`: "servers SHOULD validate that the aliases … point to the room ID …
 * return a 400 M_BAD_ALIAS otherwise"): they are resolved through that server's
 * GET /_matrix/federation/v1/query/directory (server-server-api "Querying for information"), here
 * an HTTPS peer on loopback answering as the remote server.
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let peer: HttpsPeer;
let remote: string;
let alice: TestUser;
let roomId: string;

beforeAll(async () => {
  peer = await startHttpsPeer();
  remote = `localhost:${peer.port}`;
  s = await startTestServer({ federationVerifyCertificates: false, ipRangeBlacklist: [] });
  alice = await registerUser(s.url, 'alice');
  roomId = (await as(s.url, alice)('POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
  peer.handler = (req, res) => {
    const alias = new URL(req.url, 'https://x').searchParams.get('room_alias');
    if (req.url.startsWith('/_matrix/federation/v1/query/directory') && alias === `#ours:${remote}`) json(res, 200, { room_id: roomId, servers: [remote] });
    else if (req.url.startsWith('/_matrix/federation/v1/query/directory') && alias === `#theirs:${remote}`)
      json(res, 200, { room_id: `!other:${remote}`, servers: [remote] });
    else json(res, 404, { errcode: 'M_NOT_FOUND', error: 'Room alias not found' });
  };
});
afterAll(async () => {
  await s.stop();
  await peer.close();
});

const put = (content: object) => as(s.url, alice)('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias`, content);

describe('PUT /rooms/{roomId}/state/m.room.canonical_alias with another server\'s aliases', () => {
  it('accepts the alias when its server resolves it to the room', async () => {
    const res = await put({ alias: `#ours:${remote}` });
    expect(res.status).toBe(200);
    expect(peer.requests.some((r) => r.url.startsWith('/_matrix/federation/v1/query/directory'))).toBe(true);
  });

  it('answers 400 M_BAD_ALIAS when its server resolves it to another room', async () => {
    const res = await put({ alias: `#ours:${remote}`, alt_aliases: [`#theirs:${remote}`] });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_ALIAS');
  });

  it('answers 400 M_BAD_ALIAS when its server does not know it', async () => {
    const res = await put({ alias: `#unknown:${remote}` });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_ALIAS');
  });
});
