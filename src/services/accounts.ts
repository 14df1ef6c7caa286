/**
 * Accounts, devices and access tokens (spec: client-server-api "Client Authentication":
 * "User-Interactive Authentication API", "Login", "Account registration", "Password management",
 * "Account deactivation", "Device management"; registration.yaml, login.yaml, logout.yaml,
 * whoami.yaml, device_management.yaml, password_management.yaml, account_deactivation.yaml),
 * plus Synapse's shared-secret registration (`/_synapse/admin/v1/register`).
 *
 * Passwords are hashed with scrypt (async, off the event loop) into a self-describing string;
 * access tokens are 32 random bytes stored only as their SHA-256; UIA sessions and
 * shared-secret nonces live in memory, with an expiry.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Config } from '../config';
import { sha256Hex } from '../core/hashes';
import { isValidLocalpart, parseUserId } from '../core/ids';
import { forbidden, invalidParam, MatrixError, missingParam, notFound, unknownToken, type Errcode } from '../errors';
import type { Logger } from '../log';
import type { DeviceRecord, Store } from '../storage/store';
import { deletePushersOfDevice } from './pushers';
import type { RateLimiters } from './ratelimit';

// ---------------------------------------------------------------------------------------------
// Types

/** The authenticated caller (same shape as http/auth's Requester). */
export interface Requester {
  userId: string;
  deviceId: string;
  /** SHA-256 (hex) of the access token. */
  tokenHash: string;
}

/** spec: definitions/auth_data.yaml (the UIA `auth` dict), plus the m.login.password fields. */
export interface AuthData {
  type?: string;
  session?: string;
  identifier?: UserIdentifier;
  /** Legacy m.login.password field. */
  user?: string;
  password?: string;
  [k: string]: unknown;
}

/** spec: "Identifier types". */
export interface UserIdentifier {
  type: string;
  user?: string;
  [k: string]: unknown;
}

export interface RegisterRequest {
  auth?: AuthData;
  username?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  inhibit_login?: boolean;
  /** spec: the client supports refresh tokens (v1.3). */
  refresh_token?: boolean;
}

export interface RegisterResponse {
  user_id: string;
  home_server: string;
  access_token?: string;
  device_id?: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

export interface LoginRequest {
  type: string;
  identifier?: UserIdentifier;
  user?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  refresh_token?: boolean;
}

export interface LoginResponse {
  user_id: string;
  access_token: string;
  device_id: string;
  home_server: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

/** spec: refresh.yaml, the 200 of POST /refresh. */
export interface RefreshResponse {
  access_token: string;
  refresh_token: string;
  expires_in_ms: number;
}

/** spec: administrative_contact.yaml, the `medium`/`address` of /account/3pid/delete and /unbind. */
export interface ThreepidRequest {
  medium: string;
  address: string;
  id_server?: string;
}

/** Which requestToken endpoint (spec: administrative_contact.yaml, registration.yaml, password_management.yaml). */
export type RequestTokenKind = 'account/email' | 'account/msisdn' | 'register/email' | 'register/msisdn' | 'password/email' | 'password/msisdn';

/** spec: definitions/client_device.yaml. */
export interface ClientDevice {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

export interface ChangePasswordRequest {
  new_password: string;
  logout_devices?: boolean;
  auth?: AuthData;
}

export interface SharedSecretRegisterRequest {
  nonce: string;
  username: string;
  password: string;
  mac: string;
  admin?: boolean;
  user_type?: string;
  displayname?: string;
  inhibit_login?: boolean;
}

export interface AccountService {
  /**
   * Resolves an access token (synchronous; throws 401 M_UNKNOWN_TOKEN when unknown, with
   * `soft_logout: true` when it has expired).
   */
  authenticate(token: string): Requester;
  /** POST /refresh: a new access and refresh token for the refresh token's device. */
  refresh(refreshToken: string): RefreshResponse;

  /**
   * POST /register: UIA with m.login.dummy; `kind` is the query parameter. `clientIp` is
   * what rc_registration counts (checked on every round trip, taken when an account is made).
   */
  register(body: RegisterRequest, kind?: string, clientIp?: string): Promise<RegisterResponse>;
  /** GET /register/available. */
  checkUsernameAvailable(username: string): { available: true };

  /** GET /login. */
  loginFlows(): { flows: Array<{ type: string }> };
  /**
   * POST /login (m.login.password). rc_login: `address` counts every attempt from `clientIp`,
   * `failed_attempts` the wrong passwords per user ID, `account` the logins per user ID.
   */
  login(body: LoginRequest, clientIp?: string): Promise<LoginResponse>;
  /** POST /logout: the requester's device and its tokens. */
  logout(r: Requester): void;
  /** POST /logout/all: every device and token of the user. */
  logoutAll(r: Requester): void;
  /** GET /account/whoami. */
  whoami(r: Requester): { user_id: string; device_id: string; is_guest: false };

  /** GET /devices. */
  listDevices(r: Requester): { devices: ClientDevice[] };
  /** GET /devices/{deviceId}; 404 M_NOT_FOUND when the user has no such device. */
  getDevice(r: Requester, deviceId: string): ClientDevice;
  /** PUT /devices/{deviceId}; 404 M_NOT_FOUND when the user has no such device. */
  updateDevice(r: Requester, deviceId: string, body: { display_name?: string }): void;
  /** DELETE /devices/{deviceId} and POST /delete_devices: UIA with m.login.password. */
  deleteDevices(r: Requester, deviceIds: string[], auth: AuthData | undefined): Promise<void>;

  /** POST /account/password: UIA with m.login.password; the requester is optional. */
  changePassword(r: Requester | undefined, body: ChangePasswordRequest): Promise<void>;
  /** POST /account/deactivate: UIA with m.login.password; the requester is optional. */
  deactivate(r: Requester | undefined, auth: AuthData | undefined): Promise<{ id_server_unbind_result: 'success' }>;

  /** GET /_synapse/admin/v1/register: 400 when no registration_shared_secret is configured. */
  sharedSecretNonce(): { nonce: string };
  /** POST /_synapse/admin/v1/register (nonce + HMAC-SHA1 over the shared secret). */
  sharedSecretRegister(body: SharedSecretRegisterRequest): Promise<RegisterResponse>;

  /** GET /account/3pid: Doorstep stores no third-party identifiers. */
  listThreepids(r: Requester): { threepids: [] };
  /** POST /account/3pid and /account/3pid/add (UIA when `uia`): no validation session can exist. */
  addThreepid(r: Requester, body: { auth?: AuthData; client_secret?: string; sid?: string }, uia: boolean): Promise<never>;
  /** POST /account/3pid/bind: Doorstep does not talk to identity servers. */
  bindThreepid(r: Requester): never;
  /** POST /account/3pid/delete and /unbind: nothing stored, nothing bound. */
  unbindThreepid(r: Requester, body: ThreepidRequest): { id_server_unbind_result: 'no-support' };
  /** The requestToken endpoints: no e-mail or SMS is sent, so each is refused as Synapse does without them. */
  requestToken(kind: RequestTokenKind): never;
}

export interface AccountServiceDeps {
  store: Store;
  config: Config;
  now: () => number;
  logger: Logger;
  /** rc_login and rc_registration (none: unlimited). */
  limiters?: Pick<RateLimiters, 'loginAddress' | 'loginAccount' | 'loginFailedAttempts' | 'registration'>;
}

// ---------------------------------------------------------------------------------------------
// Passwords: scrypt, stored as `scrypt$N$r$p$salt$hash` (salt and hash in unpadded base64).

const scryptAsync = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

/** N=2^14, r=8, p=1 (16 MiB, ~50 ms): OWASP's minimum scrypt parameters. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const SCRYPT_KEYLEN = 32;
const SCRYPT_SALT_BYTES = 16;
/** Bounds on stored parameters, so a corrupt row cannot make verification exhaust memory. */
const SCRYPT_MAX_N = 1 << 20;

function scryptMaxmem(N: number, r: number, p: number): number {
  return 128 * N * r * p + 1024 * 1024 * 2;
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = crypto.randomBytes(SCRYPT_SALT_BYTES);
  const { N, r, p } = params;
  const hash = await scryptAsync(password.normalize('NFKC'), salt, SCRYPT_KEYLEN, { N, r, p, maxmem: scryptMaxmem(N, r, p) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Constant-time check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parts = typeof stored === 'string' ? stored.split('$') : [];
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number];
  if (!(N > 1 && N <= SCRYPT_MAX_N && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length < 16) return false;
  const actual = await scryptAsync(password.normalize('NFKC'), salt, expected.length, { N, r, p, maxmem: scryptMaxmem(N, r, p) });
  return crypto.timingSafeEqual(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// Tokens and IDs

function newAccessToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** 10 upper-case letters, as Synapse allocates them. */
function newDeviceId(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += UPPER[crypto.randomInt(UPPER.length)];
  return s;
}

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newLocalpart(): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += LOWER_ALNUM[crypto.randomInt(LOWER_ALNUM.length)];
  return /^\d+$/.test(s) ? `u${s.slice(1)}` : s;
}

// ---------------------------------------------------------------------------------------------
// User-Interactive Authentication

export type UiaFlow = { stages: string[] };

/**
 * The 401 of the User-Interactive Authentication API: `{flows, params, session, completed?}`,
 * with `errcode`/`error` only when a stage attempt failed (clients treat an errcode on the
 * first 401 as a failure and stop).
 */
export class UserInteractiveAuthRequired extends MatrixError {
  constructor(
    readonly uia: { session: string; flows: UiaFlow[]; params: Record<string, unknown>; completed: string[] },
    readonly failure?: { errcode: Errcode; error: string },
  ) {
    super(failure?.errcode ?? 'M_UNAUTHORIZED', failure?.error ?? 'User-interactive authentication required', { status: 401 });
    this.name = 'UserInteractiveAuthRequired';
  }

  override body(): Record<string, unknown> {
    const { session, flows, params, completed } = this.uia;
    const b: Record<string, unknown> = { flows, params, session };
    if (completed.length) b.completed = completed;
    if (this.failure) Object.assign(b, { errcode: this.failure.errcode, error: this.failure.error });
    return b;
  }
}

interface UiaSession {
  id: string;
  /** What the session authorises; a session cannot be reused for another operation. */
  operation: string;
  /** The user the stages must prove (set from the requester, or by m.login.password). */
  userId?: string;
  completed: string[];
  expiresAt: number;
  /** Registration parameters remembered across the UIA round trips. */
  params: Partial<Omit<RegisterRequest, 'auth' | 'password'>>;
  passwordHash?: string;
}

const UIA_SESSION_TTL_MS = 60 * 60 * 1000;
const UIA_MAX_SESSIONS = 10_000;
const DUMMY_FLOWS: UiaFlow[] = [{ stages: ['m.login.dummy'] }];
const PASSWORD_FLOWS: UiaFlow[] = [{ stages: ['m.login.password'] }];

const SHARED_SECRET_NONCE_TTL_MS = 60 * 1000;
const MAX_NONCES = 10_000;
/** Synapse's limit on user ID length. */
const MAX_USER_ID_LENGTH = 255;

const matrixError = (errcode: Errcode, msg: string) => new MatrixError(errcode, msg);


/** 401 M_UNKNOWN_TOKEN with `soft_logout: true` (spec "Soft logout"): the device is kept, log in again or refresh. */
const softLogout = (msg: string) => new MatrixError('M_UNKNOWN_TOKEN', msg, { extra: { soft_logout: true } });

/** The token pair issueToken hands out. */
interface IssuedToken {
  accessToken: string;
  deviceId: string;
  refreshToken?: string;
  expiresInMs?: number;
}

// ---------------------------------------------------------------------------------------------

export function createAccountService(deps: AccountServiceDeps): AccountService {
  const { store, config, now } = deps;
  const limits = deps.limiters;
  const logger = deps.logger.child('accounts');
  const serverName = config.serverName;
  const registrationEnabled = config.enableRegistration && config.enableRegistrationWithoutVerification;
  if (config.enableRegistration && !config.enableRegistrationWithoutVerification) {
    logger.warn('enable_registration is set without enable_registration_without_verification; registration stays closed (Doorstep offers no verification stage)');
  }

  const sessions = new Map<string, UiaSession>();
  const nonces = new Map<string, number>();
  /** A hash of a random password, checked when the user does not exist (same timing). */
  let dummyHash: Promise<string> | undefined;

  // -- helpers ----------------------------------------------------------------------------------

  const userIdOf = (localpart: string) => `@${localpart}:${serverName}`;

  /** Synapse's check_username: lower-cased, strict grammar, no leading `_`, not numeric, free. */
  function checkUsername(username: string): string {
    const localpart = username.toLowerCase();
    if (!localpart) throw matrixError('M_INVALID_USERNAME', 'User ID cannot be empty');
    if (!isValidLocalpart(localpart)) {
      throw matrixError('M_INVALID_USERNAME', "User ID can only contain characters a-z, 0-9, or '=_-./+'");
    }
    if (localpart.startsWith('_')) throw matrixError('M_INVALID_USERNAME', 'User ID may not begin with _');
    if (/^\d+$/.test(localpart)) throw matrixError('M_INVALID_USERNAME', 'Numeric user IDs are reserved');
    if (userIdOf(localpart).length > MAX_USER_ID_LENGTH) {
      throw matrixError('M_INVALID_USERNAME', `User ID may not be longer than ${MAX_USER_ID_LENGTH} characters`);
    }
    if (store.getUser(userIdOf(localpart))) throw matrixError('M_USER_IN_USE', 'User ID already taken.');
    return localpart;
  }

  /** A user identifier (m.id.user or the legacy `user` field) → a local user ID, or null. */
  function resolveUser(identifier: UserIdentifier | undefined, legacyUser: string | undefined): string | null {
    let user: string | undefined;
    if (identifier !== undefined) {
      if (identifier.type !== 'm.id.user' || typeof identifier.user !== 'string') return null;
      user = identifier.user;
    } else {
      user = legacyUser;
    }
    if (typeof user !== 'string' || user === '') return null;
    if (user.startsWith('@')) {
      const parsed = parseUserId(user);
      if (!parsed || parsed.serverName !== serverName) return null;
      return userIdOf(parsed.localpart.toLowerCase());
    }
    return userIdOf(user.toLowerCase());
  }

  /** The user's ID when the password is right and the account exists; null otherwise. */
  async function checkPassword(userId: string | null, password: string): Promise<{ userId: string; deactivated: boolean } | null> {
    const user = userId ? store.getUser(userId) : undefined;
    if (!user || !user.passwordHash) {
      // Spend the same time as a real check, so a wrong username is not told apart by timing.
      dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
      await verifyPassword(password, await dummyHash);
      return null;
    }
    if (!(await verifyPassword(password, user.passwordHash))) return null;
    return { userId: user.userId, deactivated: user.deactivated };
  }

  /**
   * The expiry fields of a new access token (and of its refresh token when `refresh`), from
   * Synapse's refreshable_access_token_lifetime, refresh_token_lifetime and
   * nonrefreshable_access_token_lifetime.
   */
  function tokenLifetimes(ts: number, refresh: boolean, prevRefreshTokenHash: string | null = null) {
    if (!refresh) {
      const life = config.nonrefreshableAccessTokenLifetimeMs;
      return { record: { expiresTs: life === null ? null : ts + life }, expiresInMs: life ?? undefined, refreshToken: undefined };
    }
    const refreshToken = newAccessToken();
    const life = config.refreshableAccessTokenLifetimeMs;
    const refreshLife = config.refreshTokenLifetimeMs;
    return {
      record: {
        expiresTs: ts + life,
        refreshTokenHash: sha256Hex(refreshToken),
        refreshExpiresTs: refreshLife === null ? null : ts + refreshLife,
        prevRefreshTokenHash,
      },
      expiresInMs: life,
      refreshToken,
    };
  }

  /** The token fields of a login or registration answer. */
  const tokenFields = (t: IssuedToken) => ({
    access_token: t.accessToken,
    device_id: t.deviceId,
    ...(t.refreshToken !== undefined ? { refresh_token: t.refreshToken } : {}),
    ...(t.expiresInMs !== undefined ? { expires_in_ms: t.expiresInMs } : {}),
  });

  /** Creates (or reuses) a device and issues a new access token for it, in one transaction. */
  function issueToken(userId: string, deviceId: string | undefined, displayName: string | undefined, refresh = false): IssuedToken {
    const accessToken = newAccessToken();
    const ts = now();
    const lifetimes = tokenLifetimes(ts, refresh);
    const id = store.transaction(() => {
      let devId = deviceId;
      if (devId !== undefined && store.getDevice(userId, devId)) {
        // spec "Relationship between access tokens and devices": a client-set device_id
        // invalidates the tokens previously assigned to that device.
        store.deleteAccessTokensForDevice(userId, devId);
      } else {
        if (devId === undefined) {
          do devId = newDeviceId();
          while (store.getDevice(userId, devId));
        }
        store.insertDevice({ userId, deviceId: devId, displayName: displayName ?? null, createdTs: ts, lastSeenTs: ts, lastSeenIp: null });
      }
      store.insertAccessToken({ tokenHash: sha256Hex(accessToken), userId, deviceId: devId, createdTs: ts, ...lifetimes.record });
      return devId;
    });
    return { accessToken, deviceId: id, refreshToken: lifetimes.refreshToken, expiresInMs: lifetimes.expiresInMs };
  }

  /** A device, its tokens and the pushers set through them (as Synapse removes a deleted device's pushers). */
  function removeDevice(userId: string, deviceId: string): void {
    store.deleteAccessTokensForDevice(userId, deviceId);
    store.deleteDevice(userId, deviceId);
    deletePushersOfDevice(store, userId, deviceId);
  }

  function registrationDetails(
    userId: string,
    p: { inhibit_login?: boolean; device_id?: string; initial_device_display_name?: string; refresh_token?: boolean },
  ): RegisterResponse {
    const out: RegisterResponse = { user_id: userId, home_server: serverName };
    if (p.inhibit_login) return out;
    return { ...out, ...tokenFields(issueToken(userId, p.device_id, p.initial_device_display_name, p.refresh_token === true)) };
  }

  function createUser(localpart: string, passwordHash: string, opts: { admin?: boolean; displayname?: string } = {}): string {
    const userId = userIdOf(localpart);
    store.transaction(() => {
      // Checked again inside the write: another registration may have won the race.
      if (store.getUser(userId)) throw matrixError('M_USER_IN_USE', 'User ID already taken.');
      store.insertUser({
        userId, passwordHash, admin: opts.admin === true, createdTs: now(), deactivated: false,
        displayname: opts.displayname ?? localpart, avatarUrl: null,
      });
    });
    logger.info('registered user', { userId, admin: opts.admin === true });
    return userId;
  }

  // -- UIA ----------------------------------------------------------------------------------------

  function pruneSessions(): void {
    const t = now();
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id);
    while (sessions.size >= UIA_MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  }

  /** The session named by `auth.session`, or undefined when there is none; 400 when unknown. */
  function existingSession(auth: AuthData | undefined, operation: string, userId: string | undefined): UiaSession | undefined {
    if (auth?.session === undefined) return undefined;
    const s = sessions.get(auth.session);
    if (!s || s.expiresAt <= now()) {
      sessions.delete(auth.session);
      throw new MatrixError('M_UNKNOWN', 'Unknown session ID', { status: 400 });
    }
    if (s.operation !== operation) throw forbidden('Requested operation has changed during the UI authentication session.');
    if (userId !== undefined && s.userId !== undefined && s.userId !== userId) throw forbidden('Invalid auth');
    return s;
  }

  function openSession(auth: AuthData | undefined, operation: string, userId: string | undefined): UiaSession {
    const existing = existingSession(auth, operation, userId);
    if (existing) return existing;
    pruneSessions();
    const s: UiaSession = {
      id: crypto.randomBytes(18).toString('base64url'),
      operation,
      userId,
      completed: [],
      expiresAt: now() + UIA_SESSION_TTL_MS,
      params: {},
    };
    sessions.set(s.id, s);
    return s;
  }

  const flowDone = (s: UiaSession, flows: UiaFlow[]) => flows.some((f) => f.stages.every((st) => s.completed.includes(st)));

  /**
   * Runs the stage in `auth` against the session; resolves when a flow is complete, otherwise
   * throws the UIA 401 (with errcode when the attempt failed).
   */
  async function satisfy(s: UiaSession, auth: AuthData | undefined, flows: UiaFlow[]): Promise<void> {
    const required = (failure?: { errcode: Errcode; error: string }) =>
      new UserInteractiveAuthRequired({ session: s.id, flows, params: {}, completed: [...s.completed] }, failure);
    if (flowDone(s, flows)) return;
    if (!auth || auth.type === undefined) throw required();
    const offered = flows.some((f) => f.stages.includes(auth.type!));
    if (!offered) throw required({ errcode: 'M_UNRECOGNIZED', error: `Unsupported authentication type ${auth.type}` });
    switch (auth.type) {
      case 'm.login.dummy':
        break;
      case 'm.login.password': {
        if (typeof auth.password !== 'string') throw required({ errcode: 'M_MISSING_PARAM', error: 'Missing password' });
        const claimed = resolveUser(auth.identifier, auth.user);
        if (s.userId !== undefined && claimed !== null && claimed !== s.userId) {
          throw forbidden('Requested user does not match the authenticated user');
        }
        const who = claimed ?? s.userId ?? null;
        if (who) limits?.loginFailedAttempts.check(who);
        const ok = await checkPassword(who, auth.password);
        if (!ok || ok.deactivated || (s.userId !== undefined && ok.userId !== s.userId)) {
          if (who) limits?.loginFailedAttempts.record(who);
          throw required({ errcode: 'M_FORBIDDEN', error: 'Invalid password' });
        }
        s.userId = ok.userId;
        break;
      }
    }
    if (!s.completed.includes(auth.type)) s.completed.push(auth.type);
    if (!flowDone(s, flows)) throw required();
  }

  const finish = (s: UiaSession) => sessions.delete(s.id);

  // -- the service ------------------------------------------------------------------------------

  return {
    authenticate(token) {
      const tokenHash = sha256Hex(token);
      const t = store.getAccessToken(tokenHash);
      if (!t) throw unknownToken();
      // One lookup (cached by the store); the rest is arithmetic on the row.
      if (t.expiresTs != null && t.expiresTs <= now()) throw softLogout('Access token has expired');
      // The pair's first use: the refresh token it replaced stops working (spec refresh.yaml).
      if (t.prevRefreshTokenHash) store.transaction(() => store.clearPreviousRefreshToken(tokenHash));
      return { userId: t.userId, deviceId: t.deviceId, tokenHash };
    },

    refresh(refreshToken) {
      const hash = sha256Hex(refreshToken);
      const ts = now();
      const accessToken = newAccessToken();
      const issued = store.transaction(() => {
        // The pair issued with this refresh token; failing that, an unused pair issued *for* it
        // (the client lost our answer: "The old refresh token remains valid until the new access
        // token or refresh token is used"), which is replaced in turn.
        const row = store.getAccessTokenByRefreshToken(hash) ?? store.getAccessTokenByPreviousRefreshToken(hash);
        if (!row) throw unknownToken();
        const replacingUnused = row.refreshTokenHash !== hash;
        if (!replacingUnused && row.refreshExpiresTs != null && row.refreshExpiresTs <= ts) throw softLogout('Refresh token has expired');
        // spec: the old access token may be invalidated at once; it is.
        store.deleteAccessToken(row.tokenHash);
        const lifetimes = tokenLifetimes(ts, true, hash);
        store.insertAccessToken({ tokenHash: sha256Hex(accessToken), userId: row.userId, deviceId: row.deviceId, createdTs: ts, ...lifetimes.record });
        logger.info('refreshed access token', { userId: row.userId, deviceId: row.deviceId });
        return lifetimes;
      });
      return { access_token: accessToken, refresh_token: issued.refreshToken!, expires_in_ms: issued.expiresInMs! };
    },

    async register(body, kind = 'user', clientIp) {
      if (kind === 'guest') throw matrixError('M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
      if (kind !== 'user') throw invalidParam(`Unknown kind: ${kind}`);
      if (!registrationEnabled) throw forbidden('Registration has been disabled');
      // As Synapse: every round trip is checked, only a created account takes a token.
      if (clientIp !== undefined) limits?.registration.check(clientIp);

      // Parameters of earlier round trips, overridden by this request's.
      const prior = existingSession(body.auth, 'register', undefined);
      const params: UiaSession['params'] = { ...prior?.params };
      for (const k of ['username', 'device_id', 'initial_device_display_name', 'inhibit_login', 'refresh_token'] as const) {
        if (body[k] !== undefined) (params as Record<string, unknown>)[k] = body[k];
      }
      // spec: the username checks come before User-Interactive Authentication.
      const localpart = params.username !== undefined ? checkUsername(params.username) : undefined;

      const s = prior ?? openSession(body.auth, 'register', undefined);
      s.params = params;
      try {
        await satisfy(s, body.auth, DUMMY_FLOWS);
      } catch (e) {
        // Remember the password (hashed) so the client need not send it again.
        if (e instanceof UserInteractiveAuthRequired && body.password !== undefined && !s.passwordHash) {
          s.passwordHash = await hashPassword(body.password);
        }
        throw e;
      }

      const passwordHash = body.password !== undefined ? await hashPassword(body.password) : s.passwordHash;
      if (!passwordHash) throw missingParam('Missing params: password');
      let lp = localpart;
      if (lp === undefined) {
        do lp = newLocalpart();
        while (store.getUser(userIdOf(lp)));
      }
      if (clientIp !== undefined) limits?.registration.take(clientIp);
      const userId = createUser(lp, passwordHash);
      finish(s);
      return registrationDetails(userId, params);
    },

    checkUsernameAvailable(username) {
      if (!registrationEnabled) throw forbidden('Registration has been disabled');
      checkUsername(username);
      return { available: true };
    },

    loginFlows: () => ({ flows: [{ type: 'm.login.password' }] }),

    async login(body, clientIp) {
      if (clientIp !== undefined) limits?.loginAddress.take(clientIp);
      if (body.type !== 'm.login.password') throw new MatrixError('M_UNKNOWN', 'Bad login type.', { status: 400 });
      if (body.identifier === undefined && body.user === undefined) throw missingParam('Missing identifier');
      if (typeof body.password !== 'string') throw missingParam('Missing password');
      const claimed = resolveUser(body.identifier, body.user);
      // rc_login.failed_attempts: refused before the password is even looked at.
      if (claimed) limits?.loginFailedAttempts.check(claimed);
      const ok = await checkPassword(claimed, body.password);
      if (!ok) {
        if (claimed) limits?.loginFailedAttempts.record(claimed);
        throw forbidden('Invalid username or password');
      }
      if (ok.deactivated) throw matrixError('M_USER_DEACTIVATED', 'This account has been deactivated');
      limits?.loginAccount.take(ok.userId);
      const issued = issueToken(ok.userId, body.device_id, body.initial_device_display_name, body.refresh_token === true);
      logger.info('logged in', { userId: ok.userId, deviceId: issued.deviceId });
      return { user_id: ok.userId, home_server: serverName, ...tokenFields(issued) };
    },

    logout(r) {
      store.transaction(() => {
        store.deleteAccessToken(r.tokenHash);
        removeDevice(r.userId, r.deviceId);
      });
      logger.info('logged out', { userId: r.userId, deviceId: r.deviceId });
    },

    logoutAll(r) {
      store.transaction(() => {
        for (const d of store.listDevices(r.userId)) store.deleteDevice(r.userId, d.deviceId);
        store.deleteAccessTokensForUser(r.userId);
      });
      logger.info('logged out all devices', { userId: r.userId });
    },

    whoami: (r) => ({ user_id: r.userId, device_id: r.deviceId, is_guest: false }),

    listDevices: (r) => ({ devices: store.listDevices(r.userId).map(toClientDevice) }),

    getDevice(r, deviceId) {
      const d = store.getDevice(r.userId, deviceId);
      if (!d) throw notFound('Device not found');
      return toClientDevice(d);
    },

    updateDevice(r, deviceId, body) {
      if (!store.getDevice(r.userId, deviceId)) throw notFound('Device not found');
      if (body.display_name !== undefined) store.updateDevice(r.userId, deviceId, { displayName: body.display_name });
    },

    async deleteDevices(r, deviceIds, auth) {
      const ids = [...new Set(deviceIds)].sort();
      const s = openSession(auth, `delete_devices ${JSON.stringify(ids)}`, r.userId);
      await satisfy(s, auth, PASSWORD_FLOWS);
      store.transaction(() => {
        for (const id of ids) removeDevice(r.userId, id);
      });
      finish(s);
      logger.info('deleted devices', { userId: r.userId, count: ids.length });
    },

    async changePassword(r, body) {
      const s = openSession(body.auth, 'account/password', r?.userId);
      await satisfy(s, body.auth, PASSWORD_FLOWS);
      const userId = s.userId!;
      const passwordHash = await hashPassword(body.new_password);
      store.transaction(() => {
        store.updateUser(userId, { passwordHash });
        if (body.logout_devices ?? true) {
          // spec: the other tokens and their devices; the requester's own token stays.
          for (const d of store.listDevices(userId)) if (d.deviceId !== r?.deviceId) removeDevice(userId, d.deviceId);
        }
      });
      finish(s);
      logger.info('changed password', { userId });
    },

    async deactivate(r, auth) {
      const s = openSession(auth, 'account/deactivate', r?.userId);
      await satisfy(s, auth, PASSWORD_FLOWS);
      const userId = s.userId!;
      store.transaction(() => {
        store.updateUser(userId, { deactivated: true });
        for (const d of store.listDevices(userId)) store.deleteDevice(userId, d.deviceId);
        store.deleteAccessTokensForUser(userId);
      });
      finish(s);
      logger.info('deactivated account', { userId });
      return { id_server_unbind_result: 'success' };
    },

    sharedSecretNonce() {
      // Synapse hands out a nonce regardless; a nonce that can never be used is only noise.
      if (!config.registrationSharedSecret) throw new MatrixError('M_UNKNOWN', 'Shared secret registration is not enabled', { status: 400 });
      const t = now();
      for (const [n, ts] of nonces) if (t - ts > SHARED_SECRET_NONCE_TTL_MS) nonces.delete(n);
      while (nonces.size >= MAX_NONCES) nonces.delete(nonces.keys().next().value!);
      const nonce = crypto.randomBytes(32).toString('hex');
      nonces.set(nonce, t);
      return { nonce };
    },

    async sharedSecretRegister(body) {
      const secret = config.registrationSharedSecret;
      if (!secret) throw new MatrixError('M_UNKNOWN', 'Shared secret registration is not enabled', { status: 400 });
      const issued = nonces.get(body.nonce);
      // Single use, even when the rest of the request is wrong (as Synapse).
      nonces.delete(body.nonce);
      if (issued === undefined || now() - issued > SHARED_SECRET_NONCE_TTL_MS) {
        throw new MatrixError('M_UNKNOWN', 'unrecognised nonce', { status: 400 });
      }
      const hmac = crypto.createHmac('sha1', Buffer.from(secret, 'utf8'));
      hmac.update(body.nonce, 'utf8').update('\0').update(body.username, 'utf8').update('\0').update(body.password, 'utf8');
      hmac.update('\0').update(body.admin ? 'admin' : 'notadmin');
      if (body.user_type) hmac.update('\0').update(body.user_type, 'utf8');
      const want = Buffer.from(hmac.digest('hex'), 'ascii');
      const got = Buffer.from(body.mac, 'ascii');
      if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) throw forbidden('HMAC incorrect');

      const localpart = checkUsername(body.username);
      const userId = createUser(localpart, await hashPassword(body.password), { admin: body.admin === true, displayname: body.displayname });
      return registrationDetails(userId, { inhibit_login: body.inhibit_login });
    },

    // -- third-party identifiers (administrative_contact.yaml): none are stored or bound ------------

    listThreepids: () => ({ threepids: [] }),

    async addThreepid(r, body, uia) {
      // As Synapse: user-interactive auth first (for /3pid/add), then the validation session,
      // which cannot exist: Doorstep never sends a validation token.
      if (uia) {
        const s = openSession(body.auth, 'account/3pid/add', r.userId);
        await satisfy(s, body.auth, PASSWORD_FLOWS);
        finish(s);
      }
      throw new MatrixError('M_THREEPID_AUTH_FAILED', 'No validated 3pid session found');
    },

    bindThreepid() {
      throw new MatrixError('M_SERVER_NOT_TRUSTED', 'This homeserver does not bind identifiers on identity servers');
    },

    unbindThreepid(r, body) {
      logger.debug('3pid delete/unbind: nothing stored or bound', { userId: r.userId, medium: body.medium });
      return { id_server_unbind_result: 'no-support' };
    },

    requestToken(kind) {
      // Synapse's answers without an e-mail config or a phone number delegate.
      switch (kind) {
        case 'account/email':
          throw new MatrixError('M_THREEPID_MEDIUM_NOT_SUPPORTED', 'Adding an email to your account is disabled on this server');
        case 'account/msisdn':
          throw new MatrixError('M_THREEPID_MEDIUM_NOT_SUPPORTED', 'Adding phone numbers to user account is not supported by this homeserver');
        case 'register/email':
          throw new MatrixError('M_UNKNOWN', 'Email-based registration has been disabled on this server', { status: 400 });
        case 'register/msisdn':
          throw new MatrixError('M_UNKNOWN', 'Registration by phone number is not supported on this homeserver', { status: 400 });
        case 'password/email':
          throw new MatrixError('M_UNKNOWN', 'Password reset emails are not enabled on this homeserver', { status: 400 });
        case 'password/msisdn':
          throw new MatrixError('M_UNKNOWN', 'Password reset by phone number is not supported on this homeserver', { status: 400 });
      }
    },
  };
}

function toClientDevice(d: DeviceRecord): ClientDevice {
  const out: ClientDevice = { device_id: d.deviceId };
  if (d.displayName !== null) out.display_name = d.displayName;
  if (d.lastSeenIp !== null) out.last_seen_ip = d.lastSeenIp;
  if (d.lastSeenTs !== null) out.last_seen_ts = d.lastSeenTs;
  return out;
}
