/**
 * A real Synapse process as a federation peer of Doorstep on loopback (issue 13;
 * Synapse's own docs on running a local federation test pair).
 *
 * - `ensureSynapse()` runs scripts/synapse/install.sh: matrix-synapse 1.163.x in the git-ignored
 *   virtualenv .venv-synapse/ (or $SYNAPSE_VENV), installed from PyPI when missing (~25 s).
 * - `startSynapse()` writes the loopback config of scripts/synapse/config.js into a temp dir
 *   (server_name `localhost:<federationPort>`, a TLS federation listener with a self-signed
 *   certificate, a plain-HTTP client listener, federation_verify_certificates: false,
 *   ip_range_blacklist: [], fast federation retry intervals, raised rc_* limits, SQLite,
 *   default_room_version "11", report_stats: false, a registration_shared_secret and open
 *   registration), starts `python -m synapse.app.homeserver`, and waits until both listeners answer.
 *   stdout/stderr (Synapse logs INFO to stderr without a log_config) go to `logPath`.
 * - Users: `registerUser` through the client API (m.login.dummy) or `registerWithSharedSecret`
 *   through `/_synapse/admin/v1/register` (nonce + HMAC-SHA1, Synapse's admin API).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { call, type TestUser } from './client';
import { startCluster, type Cluster, type ClusterOptions, type ClusterServer } from './cluster';

interface PairModule {
  selfSignedCert(certPath: string, keyPath: string, days?: number): { certPath: string; keyPath: string };
  ipv6LoopbackAvailable(): Promise<boolean>;
}
interface SynapseConfigModule {
  synapseConfig(o: {
    dataDir: string;
    federationPort: number;
    clientPort: number;
    certPath: string;
    keyPath: string;
    federationBindAddresses?: string[];
    registrationSharedSecret?: string;
    defaultRoomVersion?: string;
    extra?: string;
  }): string;
}
// Plain-JS scripts shared with users; typed here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pair = require('../../scripts/federation-pair.js') as PairModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { synapseConfig } = require('../../scripts/synapse/config.js') as SynapseConfigModule;

const ROOT = path.resolve(__dirname, '../..');
export const INSTALL_SCRIPT = path.join(ROOT, 'scripts/synapse/install.sh');

/**
 * Makes sure the venv holds Synapse 1.163.x (installing it when missing) and returns its python.
 * Synchronous: meant for jest's globalSetup or a beforeAll.
 */
export function ensureSynapse(venv?: string): string {
  const out = execFileSync('bash', [INSTALL_SCRIPT, ...(venv ? [venv] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const python = out.trim().split('\n').pop()!;
  if (!fs.existsSync(python)) throw new Error(`synapse: install script printed no python path (${out})`);
  return python;
}

export interface SynapseOptions {
  /** The venv's python (default: $SYNAPSE_PYTHON, else `ensureSynapse()`'s). */
  python?: string;
  /** YAML appended to the config. */
  extraConfig?: string;
  /** Default 60 s (the first start creates the SQLite schema). */
  readyTimeoutMs?: number;
  /** Keep the temp directory after `stop()` (default: removed). */
  keepFiles?: boolean;
  registrationSharedSecret?: string;
}

export interface SynapseServer {
  /** `localhost:<federationPort>` */
  readonly serverName: string;
  /** Plain-HTTP client API, e.g. `http://127.0.0.1:41234`. */
  readonly clientUrl: string;
  /** The TLS federation listener, e.g. `https://127.0.0.1:41235`. */
  readonly federationUrl: string;
  readonly federationPort: number;
  readonly clientPort: number;
  readonly dataDir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** How long the last start took until both listeners answered (ms). */
  readonly lastStartMs: number;
  /** Everything Synapse logged so far, over all its runs. */
  logs(): string;
  /** The log's WARNING/ERROR lines (and tracebacks), last `n`. */
  problems(n?: number): string;
  /** Registers through the client API with m.login.dummy. */
  registerUser(localpart: string, password?: string): Promise<TestUser>;
  /** Registers through /_synapse/admin/v1/register (registration_shared_secret). */
  registerWithSharedSecret(localpart: string, opts?: { password?: string; admin?: boolean }): Promise<TestUser>;
  /** A GET/PUT/... to the federation listener over HTTPS, unauthenticated. */
  federationRequest(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** SIGTERM and wait (SIGKILL after 15 s). */
  stop(): Promise<void>;
  /** Stop if running, then start with the same config and data. */
  restart(): Promise<void>;
  /** Stops it and removes its directory (unless keepFiles). */
  close(): Promise<void>;
}

async function freePorts(k: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < k; i++) {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Synapse implements SynapseServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dispatcher: Agent;
  lastStartMs = 0;

  constructor(
    readonly federationPort: number,
    readonly clientPort: number,
    readonly dataDir: string,
    readonly configPath: string,
    private readonly python: string,
    private readonly certificatePem: string,
    private readonly opts: SynapseOptions,
  ) {
    this.dispatcher = new Agent({ connect: { ca: certificatePem }, keepAliveTimeout: 1000 });
  }

  get serverName(): string {
    return `localhost:${this.federationPort}`;
  }
  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  get federationUrl(): string {
    return `https://127.0.0.1:${this.federationPort}`;
  }
  get logPath(): string {
    return path.join(this.dataDir, 'synapse.log');
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined;
  }

  logs(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  problems(n = 30): string {
    const lines = this.logs().split('\n');
    const out: string[] = [];
    let inTrace = false;
    for (const l of lines) {
      if (/ - (WARNING|ERROR|CRITICAL) - /.test(l) && !/synapse\.config\.logger/.test(l)) {
        out.push(l);
        inTrace = false;
      } else if (/^Traceback|^\S*Error|^\s+File |^\s{4}/.test(l) && (inTrace || /^Traceback/.test(l))) {
        out.push(l);
        inTrace = true;
      } else inTrace = false;
    }
    return out.slice(-n).join('\n');
  }

  async federationRequest(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await request(this.federationUrl + urlPath, {
      method: method as any,
      dispatcher: this.dispatcher,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, body: parsed };
  }

  async registerUser(localpart: string, password = 'correct horse battery'): Promise<TestUser> {
    const res = await call(this.clientUrl, 'POST', '/_matrix/client/v3/register', {
      body: { username: localpart, password, auth: { type: 'm.login.dummy' }, inhibit_login: false },
    });
    if (res.status !== 200) throw new Error(`synapse register ${localpart}: ${res.status} ${JSON.stringify(res.body)}`);
    return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id };
  }

  async registerWithSharedSecret(localpart: string, o: { password?: string; admin?: boolean } = {}): Promise<TestUser> {
    const password = o.password ?? 'correct horse battery';
    const nonceRes = await call(this.clientUrl, 'GET', '/_synapse/admin/v1/register');
    if (nonceRes.status !== 200) throw new Error(`synapse admin register nonce: ${nonceRes.status} ${JSON.stringify(nonceRes.body)}`);
    const nonce: string = nonceRes.body.nonce;
    const mac = crypto
      .createHmac('sha1', this.opts.registrationSharedSecret ?? 'interop-secret')
      .update([nonce, localpart, password, o.admin ? 'admin' : 'notadmin'].join('\0'))
      .digest('hex');
    const res = await call(this.clientUrl, 'POST', '/_synapse/admin/v1/register', {
      body: { nonce, username: localpart, password, admin: !!o.admin, mac },
    });
    if (res.status !== 200) throw new Error(`synapse admin register ${localpart}: ${res.status} ${JSON.stringify(res.body)}`);
    return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id };
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.serverName} is already running`);
    const t0 = Date.now();
    const logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    const fd = fs.openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.python, ['-m', 'synapse.app.homeserver', '-c', this.configPath], {
        cwd: this.dataDir,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
      });
    } finally {
      fs.closeSync(fd);
    }
    this.child = child;
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const timeout = this.opts.readyTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeout;
    const checks: Array<() => Promise<number>> = [
      async () => {
        const r = await request(`${this.clientUrl}/health`);
        await r.body.text();
        return r.statusCode;
      },
      async () => (await this.federationRequest('GET', '/_matrix/federation/v1/version')).status,
    ];
    for (const check of checks) {
      for (;;) {
        if (exitInfo) throw this.startError(`exited during start-up (${exitInfo})`, logStart);
        try {
          if ((await check()) === 200) break;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) {
          await this.kill();
          throw this.startError(`not ready after ${timeout} ms`, logStart);
        }
        await sleep(50);
      }
    }
    this.lastStartMs = Date.now() - t0;
  }

  private startError(what: string, logStart: number): Error {
    return new Error(`synapse ${this.serverName} (config ${this.configPath}) ${what}; its log:\n${this.logs().slice(logStart).slice(-20_000)}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(force);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    await this.dispatcher.close();
    if (!this.opts.keepFiles) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts one Synapse as described at the top of this file. */
export async function startSynapse(opts: SynapseOptions = {}): Promise<SynapseServer> {
  const python = opts.python ?? process.env.SYNAPSE_PYTHON ?? ensureSynapse();
  const federationBindAddresses = (await pair.ipv6LoopbackAvailable()) ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
  for (let attempt = 1; ; attempt++) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-synapse-'));
    const certPath = path.join(dataDir, 'tls.crt');
    const keyPath = path.join(dataDir, 'tls.key');
    pair.selfSignedCert(certPath, keyPath, 2);
    const [federationPort, clientPort] = (await freePorts(2)) as [number, number];
    const configPath = path.join(dataDir, 'homeserver.yaml');
    fs.writeFileSync(
      configPath,
      synapseConfig({
        dataDir,
        federationPort,
        clientPort,
        certPath,
        keyPath,
        federationBindAddresses,
        registrationSharedSecret: opts.registrationSharedSecret,
        extra: opts.extraConfig,
      }),
    );
    const server = new Synapse(federationPort, clientPort, dataDir, configPath, python, fs.readFileSync(certPath, 'utf8'), opts);
    try {
      await server.start();
      return server;
    } catch (e) {
      const inUse = /Address already in use|EADDRINUSE|CannotListenError/.test((e as Error).message);
      await server.close();
      if (attempt < 3 && inUse) continue;
      throw e;
    }
  }
}

/**
 * A Synapse and a one-server Doorstep cluster started together (in parallel). If either fails to
 * start, the other is stopped before the error is rethrown, so no process outlives the test file.
 */
export async function startSynapseAndDoorstep(
  opts: { synapse?: SynapseOptions; cluster?: ClusterOptions } = {},
): Promise<{ syn: SynapseServer; cluster: Cluster; D: ClusterServer }> {
  const [s, c] = await Promise.allSettled([startSynapse(opts.synapse), startCluster(1, opts.cluster)]);
  if (s.status === 'rejected' || c.status === 'rejected') {
    await Promise.all([s.status === 'fulfilled' ? s.value.close() : undefined, c.status === 'fulfilled' ? c.value.stop() : undefined]);
    throw s.status === 'rejected' ? s.reason : (c as PromiseRejectedResult).reason;
  }
  return { syn: s.value, cluster: c.value, D: c.value.servers[0]! };
}
