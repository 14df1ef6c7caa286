/** Starts a real homeserver on port 0 with an in-memory SQLite database. */
import { createHomeserver, type Homeserver } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/log';

export interface TestServer {
  hs: Homeserver;
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const hs = createHomeserver(testConfig(overrides), { logger: createLogger('debug', (l) => logs.push(l)) });
  await hs.start();
  return { hs, url: hs.baseUrl(), logs, stop: () => hs.stop() };
}

export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}
