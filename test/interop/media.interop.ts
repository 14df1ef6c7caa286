/**
 * Remote media between Doorstep and a real Synapse (spec: server-server-api "Content Repository",
 * content_repository.yaml: GET /_matrix/federation/v1/media/download/{mediaId}, multipart/mixed;
 * client-server-api "Content repository", authed-content-repo.yaml GET /_matrix/client/v1/media/*).
 * A Synapse user's avatar is downloaded (and thumbnailed) through Doorstep; Doorstep media is
 * downloaded through Synapse.
 */
import crypto from 'node:crypto';
import sharp from 'sharp';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { type Cluster, type ClusterServer } from '../helpers/cluster';
import { startSynapseAndDoorstep, type SynapseServer } from '../helpers/synapse';

let syn: SynapseServer;
let cluster: Cluster;
let D: ClusterServer;
let sUser: TestUser;
let dUser: TestUser;

async function raw(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; bytes: Buffer; text: string }> {
  const res = await fetch(url, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: bytes.subarray(0, 500).toString('utf8') };
}

async function upload(url: string, u: TestUser, bytes: Buffer, contentType: string, filename: string): Promise<string> {
  const r = await raw(`${url}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': contentType },
    body: bytes,
  });
  if (r.status !== 200) throw new Error(`upload on ${url}: ${r.status} ${r.text}`);
  return JSON.parse(r.text).content_uri as string;
}

const bearer = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });

beforeAll(async () => {
  ({ syn, cluster, D } = await startSynapseAndDoorstep());
  sUser = await syn.registerUser('media-s');
  dUser = await registerUser(D.clientUrl, 'media-d');
});
afterAll(async () => {
  await cluster?.stop();
  await syn?.close();
});

describe('GET /_matrix/client/v1/media/download/{serverName}/{mediaId} across Doorstep and Synapse', () => {
  it("answers a Synapse user's avatar byte for byte through Doorstep, and a thumbnail of it", async () => {
    const avatar = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 250, g: 100, b: 10 } } }).png().toBuffer();
    const uri = await upload(syn.clientUrl, sUser, avatar, 'image/png', 'avatar.png');
    const set = await as(syn.clientUrl, sUser)('PUT', `/_matrix/client/v3/profile/${enc(sUser.userId)}/avatar_url`, { avatar_url: uri });
    expect(set.status).toBe(200);
    // The Doorstep client learns the URI the way a client would: from the remote user's profile.
    const profile = await as(D.clientUrl, dUser)('GET', `/_matrix/client/v3/profile/${enc(sUser.userId)}`);
    expect(profile.status).toBe(200);
    expect(profile.body.avatar_url).toBe(uri);
    const path = uri.slice('mxc://'.length);
    const r = await raw(`${D.clientUrl}/_matrix/client/v1/media/download/${path}`, { headers: bearer(dUser) });
    expect(r.status).toBe(200);
    expect(r.bytes.equals(avatar)).toBe(true);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('content-disposition')).toBe('inline; filename="avatar.png"');
    // Through Synapse's federation endpoint (multipart/mixed), not the legacy fallback.
    const mediaId = uri.split('/').pop()!;
    const cached = D.logs().split('\n').find((l) => l.includes('remote media cached') && l.includes(mediaId));
    expect(cached).toContain('"via":"federation"');
    const t = await raw(`${D.clientUrl}/_matrix/client/v1/media/thumbnail/${path}?width=64&height=64&method=crop`, { headers: bearer(dUser) });
    expect(t.status).toBe(200);
    const meta = await sharp(t.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
  });

  it('answers Doorstep media byte for byte through Synapse', async () => {
    const bytes = crypto.randomBytes(200_000);
    const uri = await upload(D.clientUrl, dUser, bytes, 'application/x-doorstep', 'blob.bin');
    const r = await raw(`${syn.clientUrl}/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`, { headers: bearer(sUser) });
    expect(r.status).toBe(200);
    expect(r.bytes.equals(bytes)).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/x-doorstep');
  });

  it('answers 404 M_NOT_FOUND through Doorstep when Synapse does not have the media', async () => {
    const r = await raw(`${D.clientUrl}/_matrix/client/v1/media/download/${syn.serverName}/NoSuchMediaHere`, { headers: bearer(dUser) });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text).errcode).toBe('M_NOT_FOUND');
  });
});
