/**
 * What Element-style clients and Complement expect (issue 12 §3), one describe per measured
 * deviation.
 */
import http from 'node:http';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let knockRoom: string;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  const res = await as(s.url, alice)('POST', '/_matrix/client/v3/createRoom', {
    room_version: '11',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  knockRoom = res.body.room_id;
});
afterAll(() => s.stop());

/** A raw request: the body bytes are sent exactly as given. */
function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `{"<key>":"a<bytes>b"}` with `bytes` put in verbatim: invalid UTF-8 inside a JSON string. */
const withBytes = (key: string, bytes: number[], rest = ''): Buffer =>
  Buffer.concat([Buffer.from(`{${rest}"${key}":"a`), Buffer.from(bytes), Buffer.from('b"}')]);

// RFC 8259 §8.1: JSON text exchanged between systems MUST be encoded using UTF-8;
// client-server-api "API Standards": a body that is not JSON is 400 M_NOT_JSON.
describe('invalid UTF-8 in a JSON request body', () => {
  const INVALID: [string, number[]][] = [
    ['a lone continuation byte', [0x80]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a byte never valid in UTF-8', [0xff]],
  ];

  it.each(INVALID)('answers 400 M_NOT_JSON on POST /register when the body has %s', async (_what, bytes) => {
    const res = await raw(
      'POST',
      '/_matrix/client/v3/register',
      { 'content-type': 'application/json' },
      withBytes('username', bytes, '"auth":{"type":"m.login.dummy"},"password":"correct horse battery",'),
    );
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it.each(INVALID)('answers 400 M_NOT_JSON on POST /knock (the fast lane) when the body has %s', async (_what, bytes) => {
    const res = await raw(
      'POST',
      `/_matrix/client/v3/knock/${enc(knockRoom)}`,
      { 'content-type': 'application/json', authorization: `Bearer ${bob.accessToken}` },
      withBytes('reason', bytes),
    );
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('still reads valid multi-byte UTF-8 and a leading BOM when the body is well formed', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ reason: 'bitte 🙏 café' }))]);
    const res = await raw(
      'POST',
      `/_matrix/client/v3/knock/${enc(knockRoom)}`,
      { 'content-type': 'application/json', authorization: `Bearer ${bob.accessToken}` },
      body,
    );
    expect(res.status).toBe(200);
    const state = await as(s.url, alice)('GET', `/_matrix/client/v3/rooms/${enc(knockRoom)}/state/m.room.member/${enc(bob.userId)}`);
    expect(state.body).toMatchObject({ membership: 'knock', reason: 'bitte 🙏 café' });
  });
});

// client-server-api "API Standards": responses are `application/json`; RFC 8259 §11 defines no
// charset parameter. Complement's csapi login and registration tests compare the header literally.
describe('Content-Type of JSON responses', () => {
  const cases: [string, () => Promise<{ status: number; headers: Headers }>, number][] = [
    [
      'POST /register',
      () => call(s.url, 'POST', '/_matrix/client/v3/register', { body: { username: 'carol', password: 'correct horse battery', auth: { type: 'm.login.dummy' } } }),
      200,
    ],
    ['POST /register (user-interactive 401)', () => call(s.url, 'POST', '/_matrix/client/v3/register', { body: { username: 'dave', password: 'pw-long-enough' } }), 401],
    ['GET /register/available', () => call(s.url, 'GET', '/_matrix/client/v3/register/available?username=erin'), 200],
    [
      'POST /login',
      () => call(s.url, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'correct horse battery' } }),
      200,
    ],
    [
      'POST /login (wrong password, 403)',
      () => call(s.url, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'wrong' } }),
      403,
    ],
    ['GET /login', () => call(s.url, 'GET', '/_matrix/client/v3/login'), 200],
    ['GET /versions', () => call(s.url, 'GET', '/_matrix/client/versions'), 200],
    ['GET /account/whoami', () => call(s.url, 'GET', '/_matrix/client/v3/account/whoami', { token: alice.accessToken }), 200],
    ['GET /account/whoami (no token, 401)', () => call(s.url, 'GET', '/_matrix/client/v3/account/whoami'), 401],
    ['an unknown endpoint (404)', () => call(s.url, 'GET', '/_matrix/client/v3/no-such-thing'), 404],
    ['POST /knock (the fast lane)', () => call(s.url, 'POST', `/_matrix/client/v3/knock/${enc(knockRoom)}`, { token: alice.accessToken, body: {} }), 403],
    ['GET /_matrix/key/v2/server', () => call(s.url, 'GET', '/_matrix/key/v2/server'), 200],
  ];

  it.each(cases)('is exactly application/json when answering %s', async (_what, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
  });
});

// client-server-api GET /rooms/{roomId}/messages (message_pagination.yaml): 403 "You aren't a
// member of the room"; for a room the server does not know the answer is the same 403 (as
// Synapse answers, and Complement expects), so it does not reveal which rooms exist.
describe('GET /rooms/{roomId}/messages', () => {
  it.each(['b', 'f'])('answers 403 M_FORBIDDEN when the room is unknown (dir=%s)', async (dir) => {
    const res = await as(s.url, alice)('GET', `/_matrix/client/v3/rooms/${enc('!nosuchroom:localhost')}/messages?dir=${dir}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers the same 403 M_FORBIDDEN when the room exists but the user is not in it', async () => {
    const res = await as(s.url, bob)('GET', `/_matrix/client/v3/rooms/${enc(knockRoom)}/messages?dir=b`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers 400 M_INVALID_PARAM when the room ID is malformed', async () => {
    const res = await as(s.url, alice)('GET', `/_matrix/client/v3/rooms/not-a-room-id/messages?dir=b`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

// client-server-api `m.room.canonical_alias`: "servers SHOULD validate that the aliases … point to
// the room ID … and return a 400 M_BAD_ALIAS otherwise" (Complement: TestRoomCanonicalAlias).
describe('PUT /rooms/{roomId}/state/m.room.canonical_alias', () => {
  let roomId: string;
  let otherRoom: string;
  const A = () => as(s.url, alice);
  const put = (content: object) => A()('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias`, content);
  const current = async () => (await A()('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias`)).body;

  beforeAll(async () => {
    roomId = (await A()('POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    otherRoom = (await A()('POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    for (const [alias, room] of [
      ['#here:localhost', roomId],
      ['#here2:localhost', roomId],
      ['#elsewhere:localhost', otherRoom],
    ] as const) {
      const res = await A()('PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: room });
      expect(res.status).toBe(200);
    }
  });

  it('accepts aliases that point to the room when alias and alt_aliases resolve to it', async () => {
    const res = await put({ alias: '#here:localhost', alt_aliases: ['#here2:localhost'] });
    expect(res.status).toBe(200);
    expect(await current()).toEqual({ alias: '#here:localhost', alt_aliases: ['#here2:localhost'] });
  });

  it.each([
    ['alias is unknown', { alias: '#nobody:localhost' }],
    ['alias points to another room', { alias: '#elsewhere:localhost' }],
    ['an alt_aliases entry is unknown', { alias: '#here:localhost', alt_aliases: ['#here2:localhost', '#nobody:localhost'] }],
    ['an alt_aliases entry points to another room', { alt_aliases: ['#elsewhere:localhost'] }],
  ])('answers 400 M_BAD_ALIAS and changes nothing when %s', async (_what, content) => {
    const before = await current();
    const res = await put(content);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_ALIAS');
    expect(await current()).toEqual(before);
  });

  it.each([
    ['alias is not an alias', { alias: '%invalid' }],
    ['an alt_aliases entry is not an alias', { alt_aliases: ['not-an-alias'] }],
    ['alt_aliases is not a list', { alt_aliases: '#here:localhost' }],
    ['alias is not a string', { alias: 7 }],
  ])('answers 400 M_INVALID_PARAM when %s', async (_what, content) => {
    const res = await put(content);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('accepts removing the aliases when the content is empty', async () => {
    const res = await put({});
    expect(res.status).toBe(200);
    expect(await current()).toEqual({});
  });

  it('still answers 403 M_FORBIDDEN to a non-member whatever the aliases', async () => {
    const res = await as(s.url, bob)('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { alias: '#nobody:localhost' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('keeps accepting an alias and alt_aliases entry already in the event when they no longer resolve', async () => {
    expect((await put({ alias: '#here:localhost', alt_aliases: ['#here2:localhost'] })).status).toBe(200);
    // Gone from the directory without the event being updated (DELETE /directory would drop
    // them from the event too), as when another server's alias is removed there.
    s.hs.store.deleteAlias('#here:localhost');
    s.hs.store.deleteAlias('#here2:localhost');
    const res = await put({ alias: '#here:localhost', alt_aliases: ['#here2:localhost'], extra: 'changed' });
    expect(res.status).toBe(200);
    const added = await put({ alias: '#here:localhost', alt_aliases: ['#here2:localhost', '#here3:localhost'] });
    expect(added.status).toBe(400);
    expect(added.body.errcode).toBe('M_BAD_ALIAS');
  });
});
