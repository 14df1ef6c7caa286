/**
 * fetchWellKnownUrl over the guarded Agent against a real HTTPS peer. spec: server-server-api.md
 * "Resolving server names" step 3: "30x redirects should be followed, however redirection loops
 * should be avoided"; an invalid answer (bad JSON, non-200) counts as an error. The address guard
 * applies to each redirect target as well.
 */
import type { Agent } from 'undici';
import { createAddressGuard } from '../../src/fedclient/address-guard';
import { createAgent, fetchWellKnownUrl } from '../../src/fedclient/transport';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';

let peer: HttpsPeer;
const agents: Agent[] = [];

function agent(blacklist: string[] = []): Agent {
  const a = createAgent({ verifyCertificates: false, guard: createAddressGuard({ blacklist, whitelist: [] }) });
  agents.push(a);
  return a;
}

beforeAll(async () => {
  peer = await startHttpsPeer();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await peer.close();
});
beforeEach(() => {
  peer.requests.length = 0;
});

const base = () => `https://127.0.0.1:${peer.port}`;
const WELL_KNOWN = '/.well-known/matrix/server';

/** /hop/N redirects to /hop/N-1 …, /hop/0 to the well-known document. */
function redirectChain(status = 302) {
  peer.handler = (req, res) => {
    const m = /^\/hop\/(\d+)$/.exec(req.url);
    if (m) {
      const n = Number(m[1]);
      res.writeHead(status, { location: n === 0 ? WELL_KNOWN : `/hop/${n - 1}` });
      return res.end();
    }
    if (req.url === WELL_KNOWN) {
      res.setHeader('cache-control', 'max-age=600');
      return json(res, 200, { 'm.server': 'delegated.example:443' });
    }
    json(res, 404, {});
  };
}

describe('fetchWellKnownUrl', () => {
  it('returns the body and Cache-Control when the answer is a 200 with JSON', async () => {
    redirectChain();
    await expect(fetchWellKnownUrl(agent(), base() + WELL_KNOWN)).resolves.toEqual({
      body: { 'm.server': 'delegated.example:443' },
      cacheControl: 'max-age=600',
    });
  });

  it.each([301, 302, 307, 308])('follows %i redirects when there are at most 5', async (status) => {
    redirectChain(status);
    await expect(fetchWellKnownUrl(agent(), `${base()}/hop/4`)).resolves.toMatchObject({ body: { 'm.server': 'delegated.example:443' } });
    expect(peer.requests).toHaveLength(6);
  });

  it('rejects when there are more than 5 redirects', async () => {
    redirectChain();
    await expect(fetchWellKnownUrl(agent(), `${base()}/hop/5`)).rejects.toThrow(/too many redirects/);
  });

  it('rejects without looping when a redirect points back', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(302, { location: '/loop' });
      res.end();
    };
    await expect(fetchWellKnownUrl(agent(), `${base()}/loop`)).rejects.toThrow(/redirect loop/);
    expect(peer.requests).toHaveLength(1);
  });

  it('rejects when a redirect leaves https', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${peer.port}${WELL_KNOWN}` });
      res.end();
    };
    await expect(fetchWellKnownUrl(agent(), `${base()}/x`)).rejects.toThrow(/non-https/);
  });

  it('refuses a redirect target when its address is blacklisted', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(302, { location: `https://127.0.0.2:${peer.port}${WELL_KNOWN}` });
      res.end();
    };
    await expect(fetchWellKnownUrl(agent(['127.0.0.2/32']), `${base()}/x`)).rejects.toThrow(/ip_range_blacklist/);
  });

  it('rejects when the answer is not a 200', async () => {
    peer.handler = (_req, res) => json(res, 404, { errcode: 'M_NOT_FOUND' });
    await expect(fetchWellKnownUrl(agent(), base() + WELL_KNOWN)).rejects.toThrow(/answered 404/);
  });

  it('rejects when the body is not JSON', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>');
    };
    await expect(fetchWellKnownUrl(agent(), base() + WELL_KNOWN)).rejects.toThrow(SyntaxError);
  });

  it('rejects when the body is larger than 50 KiB', async () => {
    peer.handler = (_req, res) => json(res, 200, { 'm.server': 'x.example', pad: 'x'.repeat(60 * 1024) });
    await expect(fetchWellKnownUrl(agent(), base() + WELL_KNOWN)).rejects.toThrow(/larger than/);
  });
});
