/**
 * Push rules over real HTTP (spec: client-server-api "Push Rules", "Predefined Rules",
 * "Push Rules: API", "Push Rules: Events"; pushrules.yaml).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;

const v3 = '/_matrix/client/v3';
const rule = (kind: string, id: string, suffix = '') => `${v3}/pushrules/global/${kind}/${enc(id)}${suffix}`;

// spec "Default Override Rules" / "Default Underride Rules", in the order listed.
const DEFAULT_OVERRIDE = [
  '.m.rule.master', '.m.rule.suppress_notices', '.m.rule.invite_for_me', '.m.rule.member_event',
  '.m.rule.is_user_mention', '.m.rule.is_room_mention', '.m.rule.tombstone', '.m.rule.reaction',
  '.m.rule.room.server_acl', '.m.rule.suppress_edits',
];
const DEFAULT_UNDERRIDE = ['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted'];

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function ruleset(user = A) {
  const res = await user('GET', `${v3}/pushrules/`);
  expect(res.status).toBe(200);
  return res.body.global as Record<string, Array<{ rule_id: string; enabled: boolean; default: boolean; actions: unknown[] }>>;
}
const ids = (rules: Array<{ rule_id: string }>) => rules.map((r) => r.rule_id);
const accountData = (u: TestUser) => s.hs.store.getAccountData(u.userId, '', 'm.push_rules');

describe('GET /pushrules/', () => {
  it('returns the spec default rule set, in order, for a new user', async () => {
    const g = await ruleset(B);
    expect(Object.keys(g).sort()).toEqual(['content', 'override', 'room', 'sender', 'underride']);
    expect(ids(g.override!)).toEqual(DEFAULT_OVERRIDE);
    expect(ids(g.underride!)).toEqual(DEFAULT_UNDERRIDE);
    expect(g.content).toEqual([]);
    expect(g.room).toEqual([]);
    expect(g.sender).toEqual([]);
    for (const r of [...g.override!, ...g.underride!]) expect(r.default).toBe(true);
  });

  it('has the spec definitions, with the user ID filled in, for the default rules', async () => {
    const g = await ruleset(B);
    const by = (id: string) => [...g.override!, ...g.underride!].find((r) => r.rule_id === id);
    expect(by('.m.rule.master')).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    expect(by('.m.rule.invite_for_me')).toEqual({
      rule_id: '.m.rule.invite_for_me',
      default: true,
      enabled: true,
      conditions: [
        { key: 'type', kind: 'event_match', pattern: 'm.room.member' },
        { key: 'content.membership', kind: 'event_match', pattern: 'invite' },
        { key: 'state_key', kind: 'event_match', pattern: bob.userId },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
    });
    expect(by('.m.rule.is_user_mention')).toEqual({
      rule_id: '.m.rule.is_user_mention',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: bob.userId }],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
    });
    expect(by('.m.rule.is_room_mention')!).toMatchObject({
      conditions: [
        { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
        { kind: 'sender_notification_permission', key: 'room' },
      ],
      actions: ['notify', { set_tweak: 'highlight' }],
    });
    expect(by('.m.rule.suppress_edits')!).toMatchObject({
      conditions: [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
      actions: [],
    });
    expect(by('.m.rule.call')).toEqual({
      rule_id: '.m.rule.call',
      default: true,
      enabled: true,
      conditions: [{ key: 'type', kind: 'event_match', pattern: 'm.call.invite' }],
      actions: ['notify', { set_tweak: 'sound', value: 'ring' }],
    });
    expect(by('.m.rule.encrypted_room_one_to_one')!).toMatchObject({
      conditions: [{ kind: 'room_member_count', is: '2' }, { kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' }],
    });
    expect(by('.m.rule.message')!.actions).toEqual(['notify']);
  });

  it('serves /pushrules without the trailing slash and under r0 too', async () => {
    const plain = await B('GET', `${v3}/pushrules`);
    expect(plain.status).toBe(200);
    expect(ids(plain.body.global.override)).toEqual(DEFAULT_OVERRIDE);
    const r0 = await B('GET', '/_matrix/client/r0/pushrules/');
    expect(r0.status).toBe(200);
    expect(ids(r0.body.global.underride)).toEqual(DEFAULT_UNDERRIDE);
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'GET', `${v3}/pushrules/`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /pushrules/global/', () => {
  it('returns the global ruleset itself', async () => {
    const res = await B('GET', `${v3}/pushrules/global/`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(await ruleset(B));
  });
});

describe('GET /pushrules/global/{kind}/{ruleId}', () => {
  it('returns a server-default rule', async () => {
    const res = await A('GET', rule('override', '.m.rule.suppress_notices'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      rule_id: '.m.rule.suppress_notices',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }],
      actions: [],
    });
  });

  it('answers 404 M_NOT_FOUND when the rule does not exist, or exists under another kind', async () => {
    for (const path of [rule('content', 'nope'), rule('underride', '.m.rule.master')]) {
      const res = await A('GET', path);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it('answers 404 M_NOT_FOUND when the kind is not one this server knows (no rule is there)', async () => {
    // Clients probe newer kinds (Complement: GET .../postcontent/<rule>, skipped on 404), as
    // Synapse answers; creating a rule of an unknown kind stays 400 (PUT, below).
    for (const path of [rule('bogus', 'x'), rule('postcontent', '.io.element.msc4306.rule.subscribed_thread'), `${rule('postcontent', 'x')}/enabled`]) {
      const res = await A('GET', path);
      expect([path, res.status, res.body.errcode]).toEqual([path, 404, 'M_NOT_FOUND']);
    }
    const put = await A('PUT', `${rule('postcontent', 'x')}/enabled`, { enabled: false });
    expect([put.status, put.body.errcode]).toEqual([404, 'M_NOT_FOUND']);
  });
});

describe('PUT /pushrules/global/{kind}/{ruleId}', () => {
  it('creates an enabled, non-default content rule and mirrors the ruleset into m.push_rules account data', async () => {
    const res = await A('PUT', rule('content', 'cake'), { pattern: 'cake', actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await A('GET', rule('content', 'cake'));
    expect(got.body).toEqual({
      rule_id: 'cake',
      default: false,
      enabled: true,
      pattern: 'cake',
      actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }],
    });
    expect(accountData(alice)).toEqual({ global: await ruleset() });
    expect(accountData(bob)).toBeUndefined();
  });

  it('puts a new rule first among user rules, or where before/after say (before wins over after)', async () => {
    await A('PUT', rule('content', 'tea'), { pattern: 'tea', actions: ['notify'] });
    expect(ids((await ruleset()).content!)).toEqual(['tea', 'cake']);
    await A('PUT', `${rule('content', 'lie')}?after=cake`, { pattern: 'cake*lie', actions: [] });
    expect(ids((await ruleset()).content!)).toEqual(['tea', 'cake', 'lie']);
    await A('PUT', `${rule('content', 'time')}?before=cake`, { pattern: 'time', actions: [] });
    expect(ids((await ruleset()).content!)).toEqual(['tea', 'time', 'cake', 'lie']);
    await A('PUT', `${rule('content', 'both')}?before=tea&after=lie`, { pattern: 'both', actions: [] });
    expect(ids((await ruleset()).content!)).toEqual(['both', 'tea', 'time', 'cake', 'lie']);
  });

  it('moves an existing rule with before/after and keeps its place without them', async () => {
    await A('PUT', `${rule('content', 'both')}?after=lie`, { pattern: 'both', actions: [] });
    expect(ids((await ruleset()).content!)).toEqual(['tea', 'time', 'cake', 'lie', 'both']);
    await A('PUT', rule('content', 'time'), { pattern: 'time2', actions: ['notify'] });
    const content = (await ruleset()).content!;
    expect(ids(content)).toEqual(['tea', 'time', 'cake', 'lie', 'both']);
    expect(content[1]).toMatchObject({ pattern: 'time2', actions: ['notify'] });
  });

  it('keeps a disabled rule disabled when it is updated', async () => {
    expect((await A('PUT', rule('content', 'lie', '/enabled'), { enabled: false })).status).toBe(200);
    await A('PUT', rule('content', 'lie'), { pattern: 'cake*lie', actions: ['notify'] });
    expect((await A('GET', rule('content', 'lie'))).body).toMatchObject({ enabled: false, actions: ['notify'] });
  });

  it('ranks user override rules below .m.rule.master and above the other server-default overrides', async () => {
    const res = await A('PUT', rule('override', 'mute-room'), {
      conditions: [{ kind: 'event_match', key: 'room_id', pattern: '!room:localhost' }],
      actions: [],
    });
    expect(res.status).toBe(200);
    const g = await ruleset();
    expect(ids(g.override!)).toEqual([DEFAULT_OVERRIDE[0], 'mute-room', ...DEFAULT_OVERRIDE.slice(1)]);
    expect(g.override![1]).toEqual({
      rule_id: 'mute-room',
      default: false,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'room_id', pattern: '!room:localhost' }],
      actions: [],
    });
  });

  it('ranks user underride rules above the server-default underrides and gives them conditions [] when none are sent', async () => {
    expect((await A('PUT', rule('underride', 'everything'), { actions: ['notify'] })).status).toBe(200);
    const g = await ruleset();
    expect(ids(g.underride!)).toEqual(['everything', ...DEFAULT_UNDERRIDE]);
    expect(g.underride![0]).toEqual({ rule_id: 'everything', default: false, enabled: true, conditions: [], actions: ['notify'] });
  });

  it('stores room and sender rules with just their actions', async () => {
    const roomRule = '!dj234r78wl45Gh4D:matrix.org';
    expect((await A('PUT', rule('room', roomRule), { actions: [] })).status).toBe(200);
    expect((await A('PUT', rule('sender', '@spambot:matrix.org'), { actions: ['dont_notify'] })).status).toBe(200);
    const g = await ruleset();
    expect(g.room).toEqual([{ rule_id: roomRule, default: false, enabled: true, actions: [] }]);
    expect(g.sender).toEqual([{ rule_id: '@spambot:matrix.org', default: false, enabled: true, actions: ['dont_notify'] }]);
  });

  describe('refuses and changes nothing when', () => {
    let before: unknown;
    let dataBefore: unknown;
    beforeEach(async () => {
      before = await ruleset();
      dataBefore = accountData(alice);
    });
    afterEach(async () => {
      expect(await ruleset()).toEqual(before);
      expect(accountData(alice)).toEqual(dataBefore);
    });

    it.each([
      ['the rule ID starts with a dot', rule('override', '.m.rule.mine'), { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['the rule ID names a server-default rule', rule('override', '.m.rule.master'), { actions: ['notify'] }, 400, 'M_INVALID_PARAM'],
      ['the rule ID contains a slash', rule('content', 'a/b'), { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
      ['the rule ID contains a backslash', rule('content', 'a\\b'), { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
      ['the kind is unknown', rule('bogus', 'x'), { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['before names an unknown rule', `${rule('content', 'new')}?before=nosuch`, { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
      ['after names a server-default rule', `${rule('override', 'new')}?after=.m.rule.master`, { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['a content rule has no pattern', rule('content', 'new'), { actions: [] }, 400, 'M_MISSING_PARAM'],
      ['a room rule carries conditions', rule('room', '!r:localhost'), { actions: [], conditions: [] }, 400, 'M_BAD_JSON'],
      ['an override rule carries a pattern', rule('override', 'new'), { actions: [], pattern: 'x' }, 400, 'M_BAD_JSON'],
      ['actions are missing', rule('content', 'new'), { pattern: 'x' }, 400, 'M_BAD_JSON'],
      ['actions is not an array', rule('content', 'new'), { pattern: 'x', actions: 'notify' }, 400, 'M_BAD_JSON'],
      ['an action is unknown', rule('content', 'new'), { pattern: 'x', actions: ['explode'] }, 400, 'M_BAD_JSON'],
      ['a tweak has no name', rule('content', 'new'), { pattern: 'x', actions: [{ value: 1 }] }, 400, 'M_BAD_JSON'],
      ['a condition has no kind', rule('override', 'new'), { actions: [], conditions: [{ key: 'type' }] }, 400, 'M_BAD_JSON'],
      ['a condition value is compound', rule('override', 'new'), { actions: [], conditions: [{ kind: 'event_property_is', key: 'a', value: {} }] }, 400, 'M_BAD_JSON'],
    ])('%s', async (_what, path, body, status, errcode) => {
      const res = await A('PUT', path, body);
      expect(res.status).toBe(status);
      expect(res.body.errcode).toBe(errcode);
    });

    it('the body is not JSON', async () => {
      const res = await call(s.url, 'PUT', rule('content', 'new'), { token: alice.accessToken, rawBody: '{"actions": [' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
    });

    it('there is no access token', async () => {
      const res = await call(s.url, 'PUT', rule('content', 'new'), { body: { pattern: 'x', actions: [] } });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });
  });

  it("does not touch another user's rules", async () => {
    const g = await ruleset(B);
    expect(g.content).toEqual([]);
    expect(ids(g.override!)).toEqual(DEFAULT_OVERRIDE);
    expect(ids(g.underride!)).toEqual(DEFAULT_UNDERRIDE);
  });
});

describe('DELETE /pushrules/global/{kind}/{ruleId}', () => {
  it('removes a user rule and updates m.push_rules account data', async () => {
    const res = await A('DELETE', rule('content', 'both'));
    expect(res.status).toBe(200);
    expect((await A('GET', rule('content', 'both'))).status).toBe(404);
    expect(ids((await ruleset()).content!)).toEqual(['tea', 'time', 'cake', 'lie']);
    expect(accountData(alice)).toEqual({ global: await ruleset() });
  });

  it('answers 404 M_NOT_FOUND when the rule does not exist', async () => {
    const res = await A('DELETE', rule('content', 'both'));
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 400 M_INVALID_PARAM and keeps the rule when it is a server-default rule', async () => {
    const res = await A('DELETE', rule('underride', '.m.rule.message'));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    expect(ids((await ruleset()).underride!)).toEqual(['everything', ...DEFAULT_UNDERRIDE]);
  });
});

describe('GET/PUT /pushrules/global/{kind}/{ruleId}/enabled', () => {
  it('reports whether a rule is enabled', async () => {
    expect((await A('GET', rule('override', '.m.rule.master', '/enabled'))).body).toEqual({ enabled: false });
    expect((await A('GET', rule('content', 'cake', '/enabled'))).body).toEqual({ enabled: true });
  });

  it('enables or disables a server-default rule for this user only, keeping the rest of the rule', async () => {
    expect((await A('PUT', rule('override', '.m.rule.master', '/enabled'), { enabled: true })).status).toBe(200);
    expect((await A('PUT', rule('underride', '.m.rule.message', '/enabled'), { enabled: false })).status).toBe(200);
    const g = await ruleset();
    expect(g.override![0]).toEqual({ rule_id: '.m.rule.master', default: true, enabled: true, conditions: [], actions: [] });
    expect(g.underride!.find((r) => r.rule_id === '.m.rule.message')).toMatchObject({ enabled: false, actions: ['notify'], default: true });
    expect(ids(g.override!)).toEqual([DEFAULT_OVERRIDE[0], 'mute-room', ...DEFAULT_OVERRIDE.slice(1)]);
    expect((await ruleset(B)).override![0]!.enabled).toBe(false);
    expect(accountData(alice)).toEqual({ global: g });
    await A('PUT', rule('override', '.m.rule.master', '/enabled'), { enabled: false });
    expect((await ruleset()).override![0]!.enabled).toBe(false);
  });

  it('disables a user rule', async () => {
    expect((await A('PUT', rule('content', 'tea', '/enabled'), { enabled: false })).status).toBe(200);
    expect((await A('GET', rule('content', 'tea'))).body).toMatchObject({ enabled: false, pattern: 'tea' });
  });

  it('answers 404 M_NOT_FOUND for an unknown rule', async () => {
    for (const method of ['GET', 'PUT']) {
      const res = await A(method, rule('content', 'nosuch', '/enabled'), method === 'PUT' ? { enabled: true } : undefined);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
    expect((await A('GET', rule('content', 'nosuch'))).status).toBe(404);
  });

  it('answers 400 M_BAD_JSON and changes nothing when enabled is not a boolean', async () => {
    const before = await ruleset();
    const res = await A('PUT', rule('underride', '.m.rule.call', '/enabled'), { enabled: 'no' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await ruleset()).toEqual(before);
  });
});

describe('GET/PUT /pushrules/global/{kind}/{ruleId}/actions', () => {
  it('returns the actions of a rule', async () => {
    const res = await A('GET', rule('underride', '.m.rule.call', '/actions'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ actions: ['notify', { set_tweak: 'sound', value: 'ring' }] });
  });

  it('changes the actions of a server-default rule and keeps its enabled state', async () => {
    const actions = ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight', value: false }];
    expect((await A('PUT', rule('underride', '.m.rule.message', '/actions'), { actions })).status).toBe(200);
    expect((await A('GET', rule('underride', '.m.rule.message'))).body).toEqual({
      rule_id: '.m.rule.message',
      default: true,
      enabled: false,
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
      actions,
    });
    expect((await ruleset(B)).underride!.find((r) => r.rule_id === '.m.rule.message')!.actions).toEqual(['notify']);
  });

  it('changes the actions of a user rule', async () => {
    expect((await A('PUT', rule('room', '!dj234r78wl45Gh4D:matrix.org', '/actions'), { actions: ['notify'] })).status).toBe(200);
    expect((await A('GET', rule('room', '!dj234r78wl45Gh4D:matrix.org', '/actions'))).body).toEqual({ actions: ['notify'] });
  });

  it('answers 404 M_NOT_FOUND for an unknown rule', async () => {
    const res = await A('PUT', rule('room', '!nosuch:localhost', '/actions'), { actions: [] });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
    expect((await A('GET', rule('room', '!nosuch:localhost'))).status).toBe(404);
  });

  it('answers 400 M_BAD_JSON and changes nothing when actions are malformed', async () => {
    const before = await ruleset();
    for (const body of [{}, { actions: 'notify' }, { actions: [42] }]) {
      const res = await A('PUT', rule('underride', '.m.rule.call', '/actions'), body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    expect(await ruleset()).toEqual(before);
  });
});

describe('the server-default rule set', () => {
  it('is still complete and in order after all the changes above', async () => {
    const g = await ruleset();
    expect(ids(g.override!).filter((id) => id.startsWith('.'))).toEqual(DEFAULT_OVERRIDE);
    expect(ids(g.underride!).filter((id) => id.startsWith('.'))).toEqual(DEFAULT_UNDERRIDE);
  });
});
