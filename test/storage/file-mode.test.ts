/**
 * The database file holds password hashes and access-token hashes: it is created 0600 like the
 * signing key (issue 12 §2), and so are the -wal and -shm files SQLite makes beside it (SQLite
 * gives them the database file's mode). The umask is set to the usual 022 for the test, so a file
 * created with the default mode would be 0644.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSqliteStore } from '../../src/storage/sqlite';

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;

describe('createSqliteStore (a new database file)', () => {
  it('creates the database, -wal and -shm files with mode 0600 under umask 022', () => {
    if (process.platform === 'win32') return; // no POSIX modes
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-mode-'));
    const oldUmask = process.umask(0o022);
    try {
      const file = path.join(dir, 'hs.db');
      const store = createSqliteStore({ path: file });
      try {
        store.transaction(() =>
          store.insertUser({ userId: '@a:x', passwordHash: 'h', admin: false, createdTs: 1, deactivated: false, displayname: 'a', avatarUrl: null }),
        );
        expect(fs.existsSync(`${file}-wal`)).toBe(true);
        expect(fs.existsSync(`${file}-shm`)).toBe(true);
        expect({ db: modeOf(file), wal: modeOf(`${file}-wal`), shm: modeOf(`${file}-shm`) }).toEqual({ db: 0o600, wal: 0o600, shm: 0o600 });
      } finally {
        store.close();
      }
      expect(modeOf(file)).toBe(0o600);
    } finally {
      process.umask(oldUmask);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
