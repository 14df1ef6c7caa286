/**
 * Migration 0020 (client transaction IDs scoped to the endpoint; spec "Transaction identifiers"):
 * rows recorded before it, keyed by (user, device, txn ID) alone, get the scope of the event they
 * recorded, so a client retrying across the upgrade still gets its first event back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import m0020 from '../../src/storage/sqlite/migrations/0020-client-txn-scope';
import { as, enc, registerUser } from '../helpers/client';
import { startTestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';

describe('migration 0020-client-txn-scope', () => {
  it('keeps earlier sends and redactions idempotent with the scope of the event they made', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-txn-'));
    const databasePath = path.join(dir, 'hs.db');
    try {
      let s = await startTestServer({ databasePath });
      const u = await registerUser(s.url, 'retrier');
      const U = as(s.url, u);
      const room = (await U('POST', `${v3}/createRoom`, {})).body.room_id as string;
      const sent = (await U('PUT', `${v3}/rooms/${enc(room)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'x' })).body.event_id as string;
      const redacted = (await U('PUT', `${v3}/rooms/${enc(room)}/redact/${enc(sent)}/t2`, {})).body.event_id as string;
      await s.stop();

      // Back to the table as it was before migration 20, then run it as the runner would.
      const db = new Database(databasePath);
      db.exec(`CREATE TABLE old_txns AS SELECT user_id, device_id, txn_id, event_id FROM client_txns;
               DROP TABLE client_txns;
               CREATE TABLE client_txns (user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL, event_id TEXT NOT NULL,
                 PRIMARY KEY (user_id, device_id, txn_id));
               INSERT INTO client_txns SELECT * FROM old_txns; DROP TABLE old_txns;
               CREATE INDEX client_txns_event ON client_txns (event_id);`);
      db.transaction(() => db.exec(m0020))();
      expect(db.prepare('SELECT scope FROM client_txns ORDER BY txn_id').pluck().all()).toEqual([`send ${room} m.room.message`, `redact ${room} ${sent}`]);
      db.close();

      s = await startTestServer({ databasePath });
      try {
        const V = as(s.url, u);
        expect((await V('PUT', `${v3}/rooms/${enc(room)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'x' })).body.event_id).toBe(sent);
        expect((await V('PUT', `${v3}/rooms/${enc(room)}/redact/${enc(sent)}/t2`, {})).body.event_id).toBe(redacted);
      } finally {
        await s.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
