/**
 * No access token, password, shared secret or signing key in any log line at any level (issue 12
 * §2; design: "Never log tokens, passwords or keys"). A realistic session at debug on a started
 * server, then every captured line is searched for every secret it used (client-server-api
 * "Using access tokens" (?access_token=), "Login", "Account registration", "Password management",
 * "Knocking on rooms", end_to_end_keys "POST /keys/upload"; Synapse's shared-secret registration).
 */
import crypto from 'node:crypto';
import { call, enc } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
const SHARED_SECRET = 'shared-Secret-7f3a9c1e';
const PASSWORDS = { alice: 'alice-Pass-41d9e2', aliceNew: 'alice-New-8b27c0', admin: 'admin-Pass-c55e1a', wrong: 'wrong-Guess-93fa06' };
const BOGUS_TOKEN = 'bogusTokenNotIssued0123456789abcdef';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ registrationSharedSecret: SHARED_SECRET });
});
afterAll(() => s.stop());

describe('logs of a full session at debug', () => {
  it('contain no access token, password, shared secret or signing key when a client registers, logs in, syncs with ?access_token=, knocks, sends, changes password, uploads keys and an admin registers with the shared secret', async () => {
    const tokens: string[] = [];
    const ok = async (p: Promise<{ status: number; body: any }>, status = 200) => {
      const r = await p;
      expect([r.status, r.body]).toEqual([status, expect.anything()]);
      return r.body;
    };

    // Registration through UIA (two round trips, the password in both).
    const first = await call(s.url, 'POST', `${v3}/register`, { body: { username: 'alice', password: PASSWORDS.alice } });
    expect(first.status).toBe(401);
    const reg = await ok(call(s.url, 'POST', `${v3}/register`, {
      body: { username: 'alice', password: PASSWORDS.alice, auth: { type: 'm.login.dummy', session: first.body.session } },
    }));
    tokens.push(reg.access_token);

    // A wrong password, then the right one.
    await ok(call(s.url, 'POST', `${v3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: PASSWORDS.wrong } }), 403);
    const login = await ok(call(s.url, 'POST', `${v3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: PASSWORDS.alice } }));
    tokens.push(login.access_token);
    const aliceToken: string = login.access_token;

    // /sync with the token in the query string, and a token the server never issued.
    await ok(call(s.url, 'GET', `${v3}/sync?timeout=0&access_token=${enc(aliceToken)}`));
    await ok(call(s.url, 'GET', `${v3}/sync?timeout=0&access_token=${BOGUS_TOKEN}`), 401);
    await ok(call(s.url, 'GET', `${v3}/account/whoami`, { token: BOGUS_TOKEN }), 401);

    // Shared-secret registration of an admin.
    const { nonce } = await ok(call(s.url, 'GET', '/_synapse/admin/v1/register'));
    const mac = crypto.createHmac('sha1', SHARED_SECRET).update(`${nonce}\0mod\0${PASSWORDS.admin}\0admin`).digest('hex');
    const admin = await ok(call(s.url, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username: 'mod', password: PASSWORDS.admin, admin: true, mac } }));
    tokens.push(admin.access_token);
    // A wrong mac is refused (and logged at debug), the secret still nowhere.
    const { nonce: n2 } = await ok(call(s.url, 'GET', '/_synapse/admin/v1/register'));
    await ok(call(s.url, 'POST', '/_synapse/admin/v1/register', { body: { nonce: n2, username: 'eve', password: PASSWORDS.wrong, mac: 'ab'.repeat(20) } }), 403);

    // The admin makes a knock room and talks; alice knocks.
    const room = await ok(call(s.url, 'POST', `${v3}/createRoom`, {
      token: admin.access_token, body: { room_version: '11', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] },
    }));
    await ok(call(s.url, 'PUT', `${v3}/rooms/${enc(room.room_id)}/send/m.room.message/t1`, { token: admin.access_token, body: { msgtype: 'm.text', body: 'hello' } }));
    await ok(call(s.url, 'POST', `${v3}/knock/${enc(room.room_id)}`, { token: aliceToken, body: { reason: 'let me in' } }));

    // Keys: a device key and one-time keys.
    await ok(call(s.url, 'POST', `${v3}/keys/upload`, {
      token: aliceToken,
      body: {
        device_keys: {
          user_id: '@alice:localhost', device_id: login.device_id, algorithms: ['m.olm.v1.curve25519-aes-sha2'],
          keys: { [`curve25519:${login.device_id}`]: 'Y3VydmUyNTUxOWtleQ', [`ed25519:${login.device_id}`]: 'ZWQyNTUxOWtleQ' },
          signatures: { '@alice:localhost': { [`ed25519:${login.device_id}`]: 'c2lnbmF0dXJl' } },
        },
        one_time_keys: { 'curve25519:AAAAAQ': 'b25ldGltZWtleQ' },
      },
    }));

    // Password change through UIA with the old password (a wrong try first), then log out.
    const pw1 = await call(s.url, 'POST', `${v3}/account/password`, { token: aliceToken, body: { new_password: PASSWORDS.aliceNew } });
    expect(pw1.status).toBe(401);
    const auth = (password: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password, session: pw1.body.session });
    await ok(call(s.url, 'POST', `${v3}/account/password`, { token: aliceToken, body: { new_password: PASSWORDS.aliceNew, auth: auth(PASSWORDS.wrong) } }), 401);
    await ok(call(s.url, 'POST', `${v3}/account/password`, { token: aliceToken, body: { new_password: PASSWORDS.aliceNew, auth: auth(PASSWORDS.alice) } }));
    const relog = await ok(call(s.url, 'POST', `${v3}/login`, { body: { type: 'm.login.password', user: 'alice', password: PASSWORDS.aliceNew } }));
    tokens.push(relog.access_token);
    await ok(call(s.url, 'POST', `${v3}/logout`, { token: relog.access_token, body: {} }));

    const seed = s.hs.services.keys.signingKey.seed;
    const secrets: Record<string, string> = {
      ...Object.fromEntries(Object.entries(PASSWORDS).map(([k, v]) => [`password ${k}`, v])),
      ...Object.fromEntries(tokens.map((t, i) => [`access token ${i}`, t])),
      'bogus token': BOGUS_TOKEN,
      'shared secret': SHARED_SECRET,
      'signing key seed (base64)': seed.toString('base64').replace(/=+$/, ''),
      'signing key seed (base64url)': seed.toString('base64url'),
      'signing key seed (hex)': seed.toString('hex'),
    };
    for (const t of tokens) expect(t.length).toBeGreaterThan(16);

    const logs = s.logs.join('');
    // The capture really is at debug and saw this session (a refusal is a debug line).
    expect(logs).toMatch(/ DEBUG .*request refused/);
    expect(logs).toMatch(/logged in/);
    const found = Object.entries(secrets).filter(([, v]) => logs.includes(v) || logs.includes(encodeURIComponent(v)));
    expect(found.map(([k]) => k)).toEqual([]);
  });
});
