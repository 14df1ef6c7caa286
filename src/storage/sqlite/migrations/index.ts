/**
 * Versioned migrations, run at start-up, all pending ones in one transaction; the schema version
 * is SQLite's `user_version`. Append only: never edit or reorder a migration that has landed.
 * One file per migration; add yours at the end of the list.
 */
import m0001 from './0001-initial';
import m0002 from './0002-client-data';
import m0003 from './0003-user-settings';
import m0004 from './0004-state-group-rows';
import m0005 from './0005-without-rowid';
import m0006 from './0006-memberships-without-rowid';
import m0007 from './0007-events-without-autoincrement';
import m0008 from './0008-federation-queue';
import m0009 from './0009-out-of-room-memberships';
import m0010 from './0010-backfill';
import m0011 from './0011-media';
import m0012 from './0012-search';
import m0013 from './0013-relations';
import m0014 from './0014-key-backup';
import m0015 from './0015-refresh-tokens';
import m0016 from './0016-remote-media';
import m0017 from './0017-cross-signing';
import m0018 from './0018-misc';
import m0019 from './0019-push-actions';
import m0020 from './0020-client-txn-scope';

export const MIGRATIONS: readonly string[] = [
  m0001,
  m0002,
  m0003,
  m0004,
  m0005,
  m0006,
  m0007,
  m0008,
  m0009,
  m0010,
  m0011,
  m0012,
  m0013,
  m0014,
  m0015,
  m0016,
  m0017,
  m0018,
  m0019,
  m0020,
  // (new migrations go above this line)
];
