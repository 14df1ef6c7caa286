/**
 * The shared set-up of the HTTP test files: a real server on port 0 (in-memory SQLite) with alice,
 * bob and carol registered, started before the file's tests and stopped after them. Call it at the
 * top level of a test file; its fields are set by the beforeAll it registers (so read them in
 * tests and in later hooks).
 */
import { as, registerUser, type TestUser } from './client';
import { startTestServer, type TestServer } from './server';

export type Caller = ReturnType<typeof as>;

export interface ThreeUsers {
  s: TestServer;
  alice: TestUser;
  bob: TestUser;
  carol: TestUser;
  A: Caller;
  B: Caller;
  C: Caller;
}

export function threeUsers(): ThreeUsers {
  const f = {} as ThreeUsers;
  beforeAll(async () => {
    f.s = await startTestServer();
    f.alice = await registerUser(f.s.url, 'alice');
    f.bob = await registerUser(f.s.url, 'bob');
    f.carol = await registerUser(f.s.url, 'carol');
    f.A = as(f.s.url, f.alice);
    f.B = as(f.s.url, f.bob);
    f.C = as(f.s.url, f.carol);
  });
  afterAll(() => f.s.stop());
  return f;
}
