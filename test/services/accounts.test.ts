/**
 * The account service on SQLite :memory: with a controlled clock: password hashing, UIA session
 * and shared-secret nonce expiry (spec: client-server-api "User-Interactive Authentication API";
 * Synapse's shared-secret registration, nonces valid 60 s).
 */
import crypto from 'node:crypto';
import { testConfig } from '../../src/config';
import { MatrixError } from '../../src/errors';
import { createLogger } from '../../src/log';
import {
  createAccountService, hashPassword, SCRYPT_PARAMS, UserInteractiveAuthRequired, verifyPassword, type AccountService,
} from '../../src/services/accounts';
import { createSqliteStore } from '../../src/storage/sqlite';
import type { Store } from '../../src/storage/store';

describe('hashPassword / verifyPassword', () => {
  it('produces a self-describing scrypt string that verifies only the right password', async () => {
    const h = await hashPassword('correct horse');
    expect(h).toMatch(new RegExp(`^scrypt\\$${SCRYPT_PARAMS.N}\\$${SCRYPT_PARAMS.r}\\$${SCRYPT_PARAMS.p}\\$[A-Za-z0-9_-]+\\$[A-Za-z0-9_-]+$`));
    expect(h).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsE', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('verifies with the parameters stored in the hash, not the current defaults', async () => {
    const cheap = await hashPassword('pw', { N: 1024, r: 4, p: 1 });
    expect(cheap.startsWith('scrypt$1024$4$1$')).toBe(true);
    expect(await verifyPassword('pw', cheap)).toBe(true);
  });

  it.each([
    [null],
    [''],
    ['plaintext'],
    ['bcrypt$2b$12$abc'],
    ['scrypt$16384$8$1$$'],
    ['scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'],
    ['scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'],
  ])('rejects the malformed or unsafe stored hash %p', async (stored) => {
    expect(await verifyPassword('pw', stored)).toBe(false);
  });

  it('never calls the blocking scryptSync', async () => {
    const spy = jest.spyOn(crypto, 'scryptSync').mockImplementation(() => {
      throw new Error('scryptSync used on a request path');
    });
    try {
      expect(await verifyPassword('pw', await hashPassword('pw'))).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('createAccountService', () => {
  let store: Store;
  let clock: number;
  let accounts: AccountService;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
    clock = 1_700_000_000_000;
    accounts = createAccountService({
      store,
      config: testConfig({ registrationSharedSecret: 'secret' }),
      now: () => clock,
      logger: createLogger('error', () => {}),
    });
  });
  afterEach(() => store.close());

  const rejection = async (p: Promise<unknown>): Promise<MatrixError> => {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(MatrixError);
      return e as MatrixError;
    }
    throw new Error('expected a rejection');
  };

  it('stores the password hashed and the access token as its SHA-256 only', async () => {
    const r = await accounts.register({ username: 'alice', password: 'pw', auth: { type: 'm.login.dummy' } });
    const user = store.getUser('@alice:localhost')!;
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('pw', user.passwordHash)).toBe(true);
    expect(store.getAccessToken(r.access_token!)).toBeUndefined();
    expect(accounts.authenticate(r.access_token!)).toEqual({
      userId: '@alice:localhost',
      deviceId: r.device_id,
      tokenHash: crypto.createHash('sha256').update(r.access_token!).digest('hex'),
    });
  });

  it('throws M_UNKNOWN_TOKEN synchronously when the token is unknown', () => {
    expect(() => accounts.authenticate('nope')).toThrow(expect.objectContaining({ errcode: 'M_UNKNOWN_TOKEN', status: 401 }));
  });

  it('shapes the UIA 401 without errcode when no stage was attempted', async () => {
    const e = await rejection(accounts.register({ username: 'bob', password: 'pw' }));
    expect(e).toBeInstanceOf(UserInteractiveAuthRequired);
    expect(e.status).toBe(401);
    expect(e.body()).toEqual({ flows: [{ stages: ['m.login.dummy'] }], params: {}, session: expect.any(String) });
  });

  it('forgets a UIA session when it is an hour old', async () => {
    const first = await rejection(accounts.register({ username: 'carol', password: 'pw' }));
    const session = (first.body() as { session: string }).session;
    clock += 60 * 60 * 1000 + 1;
    const e = await rejection(accounts.register({ auth: { type: 'm.login.dummy', session } }));
    expect(e.status).toBe(400);
    expect(store.getUser('@carol:localhost')).toBeUndefined();
  });

  it('accepts a UIA session that is still within its hour', async () => {
    const first = await rejection(accounts.register({ username: 'dave', password: 'pw' }));
    const session = (first.body() as { session: string }).session;
    clock += 59 * 60 * 1000;
    const r = await accounts.register({ auth: { type: 'm.login.dummy', session } });
    expect(r.user_id).toBe('@dave:localhost');
  });

  it('refuses a shared-secret nonce older than 60 seconds', async () => {
    const mac = (nonce: string) => crypto.createHmac('sha1', 'secret').update(`${nonce}\0erin\0pw\0notadmin`).digest('hex');
    const { nonce } = accounts.sharedSecretNonce();
    clock += 61_000;
    const e = await rejection(accounts.sharedSecretRegister({ nonce, username: 'erin', password: 'pw', mac: mac(nonce) }));
    expect(e.status).toBe(400);
    expect(e.message).toBe('unrecognised nonce');
    const fresh = accounts.sharedSecretNonce().nonce;
    clock += 59_000;
    expect((await accounts.sharedSecretRegister({ nonce: fresh, username: 'erin', password: 'pw', mac: mac(fresh) })).user_id).toBe('@erin:localhost');
  });
});
