/**
 * A tiny HTTPS "remote homeserver" for fedclient tests: a self-signed certificate (helpers/tls.ts,
 * valid for localhost, 127.0.0.1 and ::1), listening on port 0, recording every request it gets
 * (method, raw request-target, headers, body) and answering with a handler the test sets.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { selfSignedCert } from './tls';

export interface ReceivedRequest {
  method: string;
  /** The raw request-target, exactly as sent (what X-Matrix signs). */
  url: string;
  headers: IncomingMessage['headers'];
  /** The raw body ('' when none). */
  body: string;
  /** The TLS SNI the client sent (false when none). */
  servername: string | false;
}

export type PeerHandler = (req: ReceivedRequest, res: ServerResponse) => void;

export interface HttpsPeer {
  port: number;
  /** PEM of the peer's self-signed certificate (to trust it as a CA). */
  certPem: string;
  requests: ReceivedRequest[];
  handler: PeerHandler;
  close(): Promise<void>;
}

/** Answers `status` with a JSON body. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHttpsPeer(opts: { host?: string; handler?: PeerHandler } = {}): Promise<HttpsPeer> {
  const cert = selfSignedCert();
  const certPem = fs.readFileSync(cert.certPath, 'utf8');
  const peer: HttpsPeer = {
    port: 0,
    certPem,
    requests: [],
    handler: opts.handler ?? ((_req, res) => json(res, 200, {})),
    close: async () => undefined,
  };
  const server = https.createServer({ cert: certPem, key: fs.readFileSync(cert.keyPath) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        servername: (req.socket as import('node:tls').TLSSocket).servername ?? false,
      };
      peer.requests.push(received);
      peer.handler(received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  peer.port = (server.address() as AddressInfo).port;
  peer.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        fs.rmSync(cert.dir, { recursive: true, force: true });
        resolve();
      });
    });
  return peer;
}
