/** A tiny raw-HTTP Matrix client for tests: register users and call endpoints with their token. */
export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface CallResult {
  status: number;
  body: any;
  headers: Headers;
}

export async function call(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Registers `localpart` with m.login.dummy (open registration) and returns its credentials. */
export async function registerUser(baseUrl: string, localpart: string, password = 'correct horse battery'): Promise<TestUser> {
  const res = await call(baseUrl, 'POST', '/_matrix/client/v3/register', {
    body: { username: localpart, password, auth: { type: 'm.login.dummy' } },
  });
  if (res.status !== 200) throw new Error(`register ${localpart}: ${res.status} ${JSON.stringify(res.body)}`);
  return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id };
}

/** A bound caller for one user. */
export function as(baseUrl: string, user: TestUser) {
  return (method: string, path: string, body?: unknown) => call(baseUrl, method, path, { token: user.accessToken, body });
}

export const enc = encodeURIComponent;
