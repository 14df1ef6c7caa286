/**
 * The user directory over real HTTP (spec: users.yaml POST /_matrix/client/v3/user_directory/search:
 * "users that share a room with the requesting user", "users who are joined to rooms … that have
 * a public join rule", "… world_readable history visibility"; case-insensitive on user IDs and
 * display names), with Synapse's config keys `user_directory.enabled` / `search_all_users`.
 * The first cases follow Complement's tests/csapi/user_directory_display_names_test.go.
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { buildConfig } from '../../src/config';
import { startCluster, type Cluster } from '../helpers/cluster';

const v3 = '/_matrix/client/v3';
type Caller = ReturnType<typeof as>;

async function createRoom(user: Caller, body: object): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}
const directory = (user: Caller, body: object) => user('POST', `${v3}/user_directory/search`, body);
async function ids(user: Caller, search_term: string, extra: object = {}): Promise<string[]> {
  const res = await directory(user, { search_term, ...extra });
  expect(res.status).toBe(200);
  return res.body.results.map((r: any) => r.user_id);
}
async function setName(user: Caller, u: TestUser, name: string) {
  expect((await user('PUT', `${v3}/profile/${enc(u.userId)}/displayname`, { displayname: name })).status).toBe(200);
}

describe('POST /_matrix/client/v3/user_directory/search', () => {
  let s: TestServer;
  let alice: TestUser, bob: TestUser, eve: TestUser;
  let A: Caller, B: Caller, E: Caller;

  beforeAll(async () => {
    s = await startTestServer();
    alice = await registerUser(s.url, 'user-1-alice');
    bob = await registerUser(s.url, 'user-2-bob');
    eve = await registerUser(s.url, 'user-3-eve');
    A = as(s.url, alice);
    B = as(s.url, bob);
    E = as(s.url, eve);
    // Complement's setup: Alice's public name, a public room, then a private room with Bob in
    // which Alice takes a room-specific name.
    await setName(A, alice, 'Alice Cooper');
    await createRoom(A, { visibility: 'public', preset: 'public_chat' });
    const privateRoom = await createRoom(B, { visibility: 'private', preset: 'private_chat', invite: [alice.userId] });
    expect((await A('POST', `${v3}/join/${enc(privateRoom)}`, {})).status).toBe(200);
    const member = await A('PUT', `${v3}/rooms/${enc(privateRoom)}/state/m.room.member/${enc(alice.userId)}`, { membership: 'join', displayname: 'Freddy' });
    expect(member.status).toBe(200);
  });
  afterAll(() => s.stop());

  it('finds a user in a public room by their profile display name when the searcher shares no room (Complement "Eve can find Alice by profile display name")', async () => {
    const res = await directory(E, { search_term: 'Alice Cooper' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [{ user_id: alice.userId, display_name: 'Alice Cooper' }], limited: false });
  });

  it('finds a user by their user ID up to the first dash (Complement "Eve can find Alice by mxid")', async () => {
    const term = alice.userId.split('-')[0]!; // "@user"
    const res = await directory(E, { search_term: term });
    expect(res.body.results).toEqual([{ user_id: alice.userId, display_name: 'Alice Cooper' }]);
  });

  it('does not find a user by a room-specific name the searcher is not privy to (Complement "Eve cannot find Alice by room-specific name")', async () => {
    expect(await ids(E, 'Freddy')).toEqual([]);
  });

  it('shows a co-member with their global profile, not their room-specific name (Complement "Bob can find Alice by profile display name / by mxid")', async () => {
    const byName = await directory(B, { search_term: 'Alice Cooper' });
    expect(byName.body.results).toEqual([{ user_id: alice.userId, display_name: 'Alice Cooper' }]);
    const byId = await directory(B, { search_term: alice.userId.split('-')[0]! });
    expect(byId.body.results).toEqual([{ user_id: alice.userId, display_name: 'Alice Cooper' }]);
  });

  it('finds a user who shares only a private room with the searcher, and not for anyone else', async () => {
    // Bob is only in the private room with Alice.
    expect(await ids(A, 'bob')).toEqual([bob.userId]);
    expect(await ids(E, 'bob')).toEqual([]);
  });

  it('matches case-insensitively on word prefixes of the display name and user ID, with diacritics folded', async () => {
    expect(await ids(E, 'coop')).toEqual([alice.userId]);
    expect(await ids(E, 'ALICE')).toEqual([alice.userId]);
    expect(await ids(E, 'cöoper ali')).toEqual([alice.userId]);
    expect(await ids(E, 'ooper')).toEqual([]); // not a prefix of a word
    expect(await ids(E, 'alice zebra')).toEqual([]); // every word must match
  });

  it('answers no results when the term has no word characters', async () => {
    expect(await directory(E, { search_term: '  @:- ' })).toMatchObject({ status: 200, body: { results: [], limited: false } });
  });

  it.each([
    ['no search_term', {}],
    ['a search_term that is not a string', { search_term: 1 }],
    ['a limit that is not an integer', { search_term: 'a', limit: 'ten' }],
    ['a negative limit', { search_term: 'a', limit: -1 }],
  ])('rejects a body with %s with 400 M_BAD_JSON', async (_what, body) => {
    const res = await directory(E, body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await fetch(`${s.url}${v3}/user_directory/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"search_term":"a"}' });
    expect(res.status).toBe(401);
  });
});

describe('POST /_matrix/client/v3/user_directory/search (limits and config)', () => {
  let s: TestServer;
  let owner: TestUser;
  const members: TestUser[] = [];

  beforeAll(async () => {
    s = await startTestServer();
    owner = await registerUser(s.url, 'owner');
    const O = as(s.url, owner);
    const roomId = await createRoom(O, { preset: 'public_chat' });
    for (let i = 0; i < 12; i++) {
      const u = await registerUser(s.url, `walrus${String(i).padStart(2, '0')}`);
      members.push(u);
      expect((await as(s.url, u)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    }
    await setName(as(s.url, members[5]!), members[5]!, 'Walrus Prime');
    // World-readable (but invite-only) room: its members are visible too (users.yaml).
    const wr = await registerUser(s.url, 'reader');
    await createRoom(as(s.url, wr), { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }] });
  });
  afterAll(() => s.stop());

  it('returns 10 results by default and sets limited when more matched', async () => {
    const res = await directory(as(s.url, owner), { search_term: 'walrus' });
    expect(res.body.results).toHaveLength(10);
    expect(res.body.limited).toBe(true);
  });

  it('returns `limit` results, the one with a display name and a whole-word match first', async () => {
    const res = await directory(as(s.url, owner), { search_term: 'walrus', limit: 3 });
    expect(res.body.results).toHaveLength(3);
    expect(res.body.results[0]).toEqual({ user_id: members[5]!.userId, display_name: 'Walrus Prime' });
    expect(res.body.limited).toBe(true);
    const all = await directory(as(s.url, owner), { search_term: 'walrus', limit: 20 });
    expect(all.body.results).toHaveLength(12);
    expect(all.body.limited).toBe(false);
  });

  it('finds the members of a world_readable room when the searcher shares no room with them', async () => {
    const stranger = await registerUser(s.url, 'stranger1');
    expect(await ids(as(s.url, stranger), 'reader')).toEqual(['@reader:localhost']);
  });

  it('finds every local user with search_all_users: true, and nobody with enabled: false', async () => {
    const all = await startTestServer({ userDirectory: { enabled: true, searchAllUsers: true } });
    const off = await startTestServer({ userDirectory: { enabled: false, searchAllUsers: false } });
    try {
      for (const srv of [all, off]) await registerUser(srv.url, 'loner');
      const a = await registerUser(all.url, 'seeker');
      const o = await registerUser(off.url, 'seeker');
      expect(await ids(as(all.url, a), 'loner')).toEqual(['@loner:localhost']);
      const res = await directory(as(off.url, o), { search_term: 'seeker' });
      expect(res.body).toEqual({ results: [], limited: false });
    } finally {
      await all.stop();
      await off.stop();
    }
  });

  it('does not find a user with the default config when they share no room with the searcher', async () => {
    await registerUser(s.url, 'hermit');
    const seeker = await registerUser(s.url, 'seeker2');
    expect(await ids(as(s.url, seeker), 'hermit')).toEqual([]);
  });
});

describe('buildConfig (user_directory)', () => {
  it("reads Synapse's user_directory keys and defaults them as Synapse does when they are absent", () => {
    expect(buildConfig({ server_name: 'hs' }).config.userDirectory).toEqual({ enabled: true, searchAllUsers: false });
    const c = buildConfig({ server_name: 'hs', user_directory: { enabled: false, search_all_users: true } });
    expect(c.config.userDirectory).toEqual({ enabled: false, searchAllUsers: true });
    expect(c.unknownKeys).toEqual([]);
  });

  it('stops start-up naming the key when a user_directory value has the wrong type', () => {
    expect(() => buildConfig({ server_name: 'hs', user_directory: { search_all_users: 'yes' } })).toThrow(/user_directory\.search_all_users/);
  });
});

describe('POST /_matrix/client/v3/user_directory/search (a user of another server)', () => {
  jest.setTimeout(60_000);
  let cluster: Cluster;
  afterAll(() => cluster?.stop());

  it('finds a remote member of a public room by the display name of their join (users.yaml "SHOULD query remote users")', async () => {
    cluster = await startCluster(2, { logLevel: 'warn' });
    const [H, R] = cluster.servers;
    const host = await registerUser(H!.clientUrl, 'host');
    const seeker = await registerUser(H!.clientUrl, 'seeker');
    const remy = await registerUser(R!.clientUrl, 'remy');
    const roomId = await createRoom(as(H!.clientUrl, host), { preset: 'public_chat' });
    const joined = await as(R!.clientUrl, remy)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(H!.serverName)}`, {});
    expect(joined.status).toBe(200);
    const named = await as(R!.clientUrl, remy)('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(remy.userId)}`, {
      membership: 'join', displayname: 'Remy Faraway', avatar_url: 'mxc://elsewhere/remy',
    });
    expect(named.status).toBe(200);
    const deadline = Date.now() + 15_000;
    let results: unknown[] = [];
    while (Date.now() < deadline) {
      const res = await directory(as(H!.clientUrl, seeker), { search_term: 'faraway' });
      expect(res.status).toBe(200);
      results = res.body.results;
      if (results.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(results).toEqual([{ user_id: remy.userId, display_name: 'Remy Faraway', avatar_url: 'mxc://elsewhere/remy' }]);
  });
});
