/** /sync helpers for HTTP tests. */
import { call, type CallResult, type TestUser } from './client';

export interface SyncParams {
  since?: string;
  timeout?: number;
  filter?: string | object;
  full_state?: boolean;
  set_presence?: string;
}

export function syncPath(p: SyncParams = {}): string {
  const q = new URLSearchParams();
  if (p.since !== undefined) q.set('since', p.since);
  if (p.timeout !== undefined) q.set('timeout', String(p.timeout));
  if (p.filter !== undefined) q.set('filter', typeof p.filter === 'string' ? p.filter : JSON.stringify(p.filter));
  if (p.full_state !== undefined) q.set('full_state', String(p.full_state));
  if (p.set_presence !== undefined) q.set('set_presence', p.set_presence);
  const qs = q.toString();
  return `/_matrix/client/v3/sync${qs ? `?${qs}` : ''}`;
}

/** GET /sync; fails the test unless it answers 200. */
export async function sync(url: string, user: TestUser, p: SyncParams = {}): Promise<any> {
  const res: CallResult = await call(url, 'GET', syncPath(p), { token: user.accessToken });
  if (res.status !== 200) throw new Error(`sync ${user.userId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Repeats incremental syncs from `since` until `pred` holds (or ~5 s pass). */
export async function syncUntil(
  url: string,
  user: TestUser,
  since: string,
  pred: (body: any) => boolean,
  opts: { filter?: string | object } = {},
): Promise<{ body: any; next: string }> {
  const deadline = Date.now() + 5000;
  let token = since;
  while (Date.now() < deadline) {
    const body = await sync(url, user, { since: token, timeout: 1000, filter: opts.filter });
    token = body.next_batch;
    if (pred(body)) return { body, next: token };
  }
  throw new Error(`syncUntil: condition not met for ${user.userId}`);
}

export const timelineOf = (body: any, roomId: string, section = 'join'): any[] => body.rooms?.[section]?.[roomId]?.timeline?.events ?? [];
export const stateOf = (body: any, roomId: string, section = 'join'): any[] => body.rooms?.[section]?.[roomId]?.state?.events ?? [];
