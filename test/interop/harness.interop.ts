/**
 * The Synapse peer harness (issue 13 "Build" 1): a real Synapse
 * 1.163 on loopback next to a real Doorstep process, each able to authenticate to the other.
 * Spec: server-server-api "Retrieving server keys" ("Publishing Keys"), "Authentication"
 * (Request Authentication, X-Matrix), "Querying for information" (GET /query/profile).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { type Cluster, type ClusterServer } from '../helpers/cluster';
import { startSynapseAndDoorstep, type SynapseServer } from '../helpers/synapse';

let syn: SynapseServer;
let cluster: Cluster;
let D: ClusterServer;

beforeAll(async () => {
  const t0 = Date.now();
  ({ syn, cluster, D } = await startSynapseAndDoorstep());
  console.log(`interop harness: Synapse ready in ${syn.lastStartMs} ms (with Doorstep in parallel: ${Date.now() - t0} ms)`);
});
afterAll(async () => {
  await Promise.all([syn?.close(), cluster?.stop()]);
});

describe('startSynapse', () => {
  it('serves its signing key for its localhost:<port> name over TLS when started', async () => {
    const res = await syn.federationRequest('GET', '/_matrix/key/v2/server');
    expect(res.status).toBe(200);
    expect(res.body.server_name).toBe(syn.serverName);
    expect(Object.keys(res.body.verify_keys)).toEqual([expect.stringMatching(/^ed25519:/)]);
    expect(res.body.valid_until_ts).toBeGreaterThan(Date.now());
  });

  it('registers users through the client API and through the shared-secret admin API', async () => {
    const a = await syn.registerUser('harness-a');
    const b = await syn.registerWithSharedSecret('harness-b', { admin: true });
    for (const u of [a, b]) {
      const who = await as(syn.clientUrl, u)('GET', '/_matrix/client/v3/account/whoami');
      expect(who.status).toBe(200);
      expect(who.body.user_id).toBe(u.userId);
    }
    expect(a.userId).toBe(`@harness-a:${syn.serverName}`);
  });

  it('keeps its data across a clean stop (SIGTERM) and restart', async () => {
    const u = await syn.registerUser('harness-restart');
    const before = syn.logs().length;
    await syn.restart();
    expect(syn.running).toBe(true);
    // Twisted's orderly shutdown, not a kill: the stop was clean.
    const stopLog = syn.logs().slice(before);
    expect(stopLog).toContain('Received SIGTERM, shutting down.');
    expect(stopLog).toContain('Main loop terminated.');
    const who = await as(syn.clientUrl, u)('GET', '/_matrix/client/v3/account/whoami');
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe(u.userId);
  });
});

describe('GET /_matrix/federation/v1/query/profile between Synapse and Doorstep', () => {
  let dUser: TestUser;
  let sUser: TestUser;
  beforeAll(async () => {
    dUser = await registerUser(D.clientUrl, 'profiled');
    sUser = await syn.registerUser('profile-reader');
  });

  it("returns a Doorstep user's displayname to Synapse's client when Synapse signs the request with X-Matrix", async () => {
    const set = await as(D.clientUrl, dUser)('PUT', `/_matrix/client/v3/profile/${enc(dUser.userId)}/displayname`, { displayname: 'Door Stepper' });
    expect(set.status).toBe(200);
    const res = await as(syn.clientUrl, sUser)('GET', `/_matrix/client/v3/profile/${enc(dUser.userId)}`);
    expect({ status: res.status, body: res.body, synapse: res.status === 200 ? '' : syn.problems(10) }).toMatchObject({
      status: 200,
      body: { displayname: 'Door Stepper' },
    });
  });

  it("answers Synapse's unauthenticated federation request with 401 M_UNAUTHORIZED", async () => {
    // The same path without X-Matrix, straight to Doorstep's federation listener.
    const res = await D.federationRequest('GET', `/_matrix/federation/v1/query/profile?user_id=${enc(dUser.userId)}`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNAUTHORIZED');
  });

  it("returns 404 from Synapse's client for a Doorstep user who does not exist", async () => {
    const res = await call(syn.clientUrl, 'GET', `/_matrix/client/v3/profile/${enc(`@nobody:${D.serverName}`)}`, { token: sUser.accessToken });
    expect(res.status).toBe(404);
  });
});
