/**
 * A cluster of real Doorstep PROCESSES that federate over TLS on loopback (issue 11, "Test harness").
 *
 * Each server i gets:
 *  - server_name `localhost:<federationPort>` (spec: server-server-api "Resolving server names":
 *    a name with an explicit port is dialled directly, over HTTPS);
 *  - a TLS listener on 127.0.0.1 (and ::1 where available) at that port serving federation and the
 *    client API, with a self-signed certificate for localhost/127.0.0.1/::1 made at start (openssl);
 *  - a plain-HTTP client listener on 127.0.0.1 for the test's own client calls (`clientUrl`);
 *  - `federation_verify_certificates: false`, `ip_range_blacklist: []`, open registration,
 *    SQLite in a file under its data dir (a restart keeps everything), log_level debug into a log
 *    file (appended across restarts, so `logs()` shows every run).
 * The config text comes from scripts/federation-pair.js (`instanceConfig`), the documented pair.
 *
 * Ports are fixed per server for the cluster's life, so server_name keeps matching the federation
 * port across restarts. bench/federation.js loads this file through esbuild; keep it free of jest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { MAIN } from './spawn';

interface PairModule {
  selfSignedCert(certPath: string, keyPath: string, days?: number): { certPath: string; keyPath: string };
  instanceConfig(o: {
    federationPort: number;
    clientPort: number;
    certPath: string;
    keyPath: string;
    databasePath: string;
    signingKeyPath: string;
    federationBindAddresses?: string[];
    logLevel?: string;
    extra?: string;
  }): string;
  ipv6LoopbackAvailable(): Promise<boolean>;
}
// A plain-JS script shared with users (README "Two federating instances"); typed here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pair = require('../../scripts/federation-pair.js') as PairModule;

export interface ClusterOptions {
  /** YAML appended to server i's config (e.g. `rc_knock: …`). */
  extraConfig?: string | ((index: number) => string);
  /** Default `debug`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * The Doorstep entry point to run (default: $DOORSTEP_TEST_ENTRY if set, else package.json `bin`,
   * dist/doorstep.js).
   */
  entry?: string;
  /** Extra arguments for node before the entry (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** How long a start may take before it counts as failed (default 15 s). */
  readyTimeoutMs?: number;
  /** Keep the temp directory (configs, data, logs) after `cluster.stop()` (default: removed). */
  keepFiles?: boolean;
}

export interface FederationResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface ClusterServer {
  readonly index: number;
  /** `localhost:<federationPort>` */
  readonly serverName: string;
  /** Plain HTTP client API, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly clientUrl: string;
  /** The TLS listener, e.g. `https://127.0.0.1:41235` (no trailing slash). */
  readonly federationUrl: string;
  readonly federationPort: number;
  readonly clientPort: number;
  /** Holds the config, database, signing key and log file. */
  readonly dataDir: string;
  readonly configPath: string;
  readonly logPath: string;
  /** The PEM of the self-signed certificate every server of this cluster presents. */
  readonly certificatePem: string;
  /** The running process's pid (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Everything the server has logged so far, over all its runs. */
  logs(): string;
  /** SIGTERM, and waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Stops it if running, then starts it again with the same config and data. */
  restart(): Promise<void>;
  /** SIGKILL (no graceful shutdown), and waits for the exit. */
  kill(): Promise<void>;
  /**
   * An unauthenticated request to the federation listener over HTTPS, checking the certificate
   * against `certificatePem` (the certificate names 127.0.0.1).
   */
  federationRequest(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<FederationResponse>;
}

export interface Cluster {
  readonly servers: ClusterServer[];
  readonly dir: string;
  /** Stops every running server (and removes the temp directory unless `keepFiles`). */
  stop(): Promise<void>;
}

/** `k` distinct free TCP ports on 127.0.0.1 (all held open together, then closed). */
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

class Server implements ClusterServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dispatcher: Agent;

  constructor(
    readonly index: number,
    readonly federationPort: number,
    readonly clientPort: number,
    readonly dataDir: string,
    readonly configPath: string,
    readonly logPath: string,
    readonly certificatePem: string,
    private readonly opts: ClusterOptions,
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

  async federationRequest(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<FederationResponse> {
    const res = await request(this.federationUrl + urlPath, {
      method: method as any,
      dispatcher: this.dispatcher,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  /** Starts the process and waits until both listeners answer; throws with the log on failure. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.serverName} is already running`);
    const logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    const fd = fs.openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), this.opts.entry ?? process.env.DOORSTEP_TEST_ENTRY ?? MAIN, '--config', this.configPath], {
        cwd: this.dataDir,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      fs.closeSync(fd); // the child holds its own copy
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
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 15_000);
    const checks: Array<() => Promise<number>> = [
      async () => (await request(`${this.clientUrl}/_matrix/client/versions`)).statusCode,
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
          throw this.startError(`not ready after ${this.opts.readyTimeoutMs ?? 15_000} ms`, logStart);
        }
        await sleep(25);
      }
    }
  }

  private startError(what: string, logStart: number): Error {
    const log = this.logs().slice(logStart);
    return new Error(`cluster: ${this.serverName} (config ${this.configPath}) ${what}; its log:\n${log.slice(-20_000)}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
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
  }
}

/**
 * Starts `n` Doorstep processes (in parallel) as described at the top of this file. On a failed
 * start the servers already started are stopped and the error carries the failing server's log.
 */
export async function startCluster(n: number, opts: ClusterOptions = {}): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-cluster-'));
  const certPath = path.join(dir, 'tls.crt');
  const keyPath = path.join(dir, 'tls.key');
  pair.selfSignedCert(certPath, keyPath, 2);
  const certificatePem = fs.readFileSync(certPath, 'utf8');
  const federationBindAddresses = (await pair.ipv6LoopbackAvailable()) ? ['127.0.0.1', '::1'] : ['127.0.0.1'];

  /**
   * Server i on fresh ports. Ports are free when chosen but another process may take one before
   * Doorstep binds it: a first start that fails with EADDRINUSE is retried on new ports (the data
   * directory is emptied, so the server name still matches everything in it).
   */
  const taken = new Set<number>(); // ports given to this cluster's servers
  const startServer = async (i: number): Promise<Server> => {
    const dataDir = path.join(dir, `hs${i}`);
    for (let attempt = 1; ; attempt++) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.mkdirSync(dataDir);
      let ports: number[];
      do ports = await freePorts(2);
      while (ports.some((p) => taken.has(p)));
      for (const p of ports) taken.add(p);
      const [federationPort, clientPort] = ports as [number, number];
      const configPath = path.join(dataDir, 'homeserver.yaml');
      const extra = typeof opts.extraConfig === 'function' ? opts.extraConfig(i) : opts.extraConfig;
      fs.writeFileSync(
        configPath,
        pair.instanceConfig({
          federationPort,
          clientPort,
          certPath,
          keyPath,
          databasePath: path.join(dataDir, 'homeserver.db'),
          signingKeyPath: path.join(dataDir, 'signing.key'),
          federationBindAddresses,
          logLevel: opts.logLevel ?? 'debug',
          extra,
        }),
      );
      const server = new Server(i, federationPort, clientPort, dataDir, configPath, path.join(dataDir, 'homeserver.log'), certificatePem, opts);
      try {
        await server.start();
        return server;
      } catch (e) {
        await server.close();
        if (attempt < 3 && /EADDRINUSE/.test((e as Error).message)) continue;
        throw e;
      }
    }
  };

  const started = await Promise.allSettled(Array.from({ length: n }, (_, i) => startServer(i)));
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.close()));
    if (!opts.keepFiles) fs.rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }

  const cluster: Cluster = {
    servers,
    dir,
    async stop() {
      await Promise.all(servers.map((s) => s.close()));
      if (!opts.keepFiles) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
