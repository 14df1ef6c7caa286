/**
 * A knock survives a restart of the server (SQLite file, not memory): every knock answered
 * 200 is still there after SIGTERM and after SIGKILL, on the moderator's and the knocker's side.
 */
import fs from 'node:fs';
import path from 'node:path';
import { as, enc, registerUser } from './helpers/client';
import { freePort, runDoorstep, tempDir, waitReady, type Proc } from './helpers/spawn';
// A plain-JS module shared with bench/ and scripts/ (typed here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { testRateLimitsYaml } = require('../scripts/test-rate-limits') as { testRateLimitsYaml(existingYaml?: string): string };

const v3 = '/_matrix/client/v3';

describe('knocks across restarts', () => {
  it('keeps every acknowledged knock, reason and knock_state after SIGTERM and after SIGKILL', async () => {
    const dir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cfg = path.join(dir, 'homeserver.yaml');
    fs.writeFileSync(
      cfg,
      `server_name: localhost\nenable_registration: true\nenable_registration_without_verification: true\nlog_level: warn\n` +
        testRateLimitsYaml() +
        `listeners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n`,
    );
    const start = async (): Promise<Proc> => {
      const p = runDoorstep(['--config', cfg], dir);
      await waitReady(`${url}/_matrix/client/versions`, p);
      return p;
    };

    let p = await start();
    const mod = await registerUser(url, 'mod');
    const k1 = await registerUser(url, 'k1');
    const k2 = await registerUser(url, 'k2');
    const { room_id: roomId } = (
      await as(url, mod)('POST', `${v3}/createRoom`, {
        name: 'Durable',
        initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
      })
    ).body;
    expect((await as(url, k1)('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'first' })).status).toBe(200);

    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    p = await start();
    // Tokens, the room and the knock survived a graceful restart.
    expect((await as(url, k2)('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'second' })).status).toBe(200);

    p.child.kill('SIGKILL');
    await p.exited;
    p = await start();
    try {
      const members = await as(url, mod)('GET', `${v3}/rooms/${enc(roomId)}/members?membership=knock`);
      expect(members.status).toBe(200);
      const reasons = Object.fromEntries(members.body.chunk.map((e: any) => [e.state_key, e.content.reason]));
      expect(reasons).toEqual({ [k1.userId]: 'first', [k2.userId]: 'second' });
      const sync = await as(url, k2)('GET', `${v3}/sync?timeout=0`);
      const events = sync.body.rooms.knock[roomId].knock_state.events as any[];
      expect(events.find((e) => e.type === 'm.room.name').content.name).toBe('Durable');
      expect(events.find((e) => e.type === 'm.room.member').content).toMatchObject({ membership: 'knock', reason: 'second' });
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  });
});
