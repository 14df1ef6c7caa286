/**
 * The media repository (spec: client-server-api "Content repository"; content-repo.yaml,
 * authed-content-repo.yaml; server-server-api content_repository.yaml). The bytes are files under
 * media_store_path, the metadata rows are the store's (storage/media.ts).
 *
 * Remote media (mxc://{other server}/…) is fetched once over federation (fedclient/media.ts: the
 * federation endpoint, else the legacy one with allow_remote=false), at most max_upload_size bytes
 * (as Synapse, which caps remote downloads by the same key), written durably as an upload is and
 * recorded in remote_media_cache, then served from there — also when its server is gone.
 * Concurrent requests for the same media share one fetch. Its thumbnails are made here from the
 * cached original, as for local media. A remote 404 is our 404 M_NOT_FOUND; a remote that cannot be
 * reached, times out or answers something malformed is 502 M_UNKNOWN; media over the cap is
 * 502 M_TOO_LARGE (content_repository.yaml "The content is too large for the server to serve").
 *
 * Durable like events: an upload is written to a temporary file, fsynced, renamed into place and
 * its directory fsynced, and only then is its row committed; the response then waits for the
 * commit's fsync (http/durable.ts). A crash leaves either no row (and at most a stray temporary
 * file) or a row whose file is complete.
 *
 * Thumbnails (spec "Thumbnails") are made with sharp (libvips), loaded on the first thumbnail
 * request so start-up does not pay for it, and cached as files keyed by (media, width, height,
 * method, type): they can be remade, so they are renamed into place without an fsync.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type SharpModule from 'sharp';
import { isValidServerName } from '../core/ids';
import { forbidden, invalidParam, MatrixError, notFound, tooLarge, type Errcode } from '../errors';
import { BodyTooLargeError, RemoteError, type BytesFederationClient } from '../fedclient/client';
import { downloadRemoteMedia } from '../fedclient/media';
import type { Logger } from '../log';
import type { LocalMediaRecord, MediaUpload, RemoteMediaRecord } from '../storage/media';
import type { Store } from '../storage/store';

/** spec "Matrix Content (mxc://) URIs": a media ID is only these characters. */
const MEDIA_ID = /^[A-Za-z0-9_-]+$/;
/** The longest media ID accepted in a request (ours are 24 characters). */
const MAX_MEDIA_ID_LENGTH = 255;

/** timeout_ms (authed-content-repo.yaml): default 20 s; the spec asks for a maximum. */
export const DEFAULT_MEDIA_TIMEOUT_MS = 20_000;
export const MAX_MEDIA_TIMEOUT_MS = 60_000;
/** A remote fetch gets at least this long, whatever timeout_ms says (0 would fail every fetch). */
export const MIN_REMOTE_FETCH_TIMEOUT_MS = 1_000;

/** POST /create: reservations expire after 24 h (the spec's recommended default). */
const UNUSED_EXPIRATION_MS = 24 * 60 * 60 * 1000;
/** Pending reservations a user may hold (Synapse's max_pending_media_uploads default): 429 beyond. */
const MAX_PENDING_UPLOADS = 5;

/** Upload bytes are written to the file in batches of about this size (fewer, larger writes). */
const WRITE_BATCH = 1024 * 1024;

/** Types that can be thumbnailed (sharp decodes them all with its prebuilt libvips). */
const THUMBNAIL_SOURCES: ReadonlySet<string> = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/gif', 'image/webp', 'image/apng']);

export type ThumbnailMethod = 'crop' | 'scale';

export interface MediaConfig {
  /** Where files live; undefined: a temporary directory, removed at close (`:memory:` servers). */
  storePath: string | undefined;
  maxUploadSize: number;
  maxImagePixels: number;
}

/** The metadata given with uploaded bytes. */
export interface UploadMeta {
  /** The Content-Type header (default application/octet-stream). */
  contentType: string | undefined;
  /** The `filename` query parameter. */
  filename: string | undefined;
  /** The Content-Length header, when sent: checked against the limit before reading. */
  contentLength: string | undefined;
}

/** A local file to serve. */
export interface MediaFile {
  path: string;
  size: number;
  contentType: string;
  uploadName: string | null;
}

export interface ThumbnailRequest {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

export interface WaitOptions {
  /** How long to wait for an async upload, and for a remote fetch (at least MIN_REMOTE_FETCH_TIMEOUT_MS). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** content-repo.yaml `allow_remote`: false answers 404 for remote media not cached here (no fetch). Default true. */
  allowRemote?: boolean;
}

export interface MediaService {
  /** GET /media/config. */
  config(): { 'm.upload.size': number };
  /** POST /_matrix/media/v3/upload. */
  upload(userId: string, body: Readable | undefined, meta: UploadMeta): Promise<{ content_uri: string }>;
  /** POST /_matrix/media/v1/create. */
  create(userId: string): { content_uri: string; unused_expires_at: number };
  /** PUT /_matrix/media/v3/upload/{serverName}/{mediaId}. */
  uploadTo(userId: string, serverName: string, mediaId: string, body: Readable | undefined, meta: UploadMeta): Promise<Record<string, never>>;
  /** The file behind mxc://serverName/mediaId, waiting up to timeoutMs for an async upload (504 M_NOT_YET_UPLOADED). */
  download(serverName: string, mediaId: string, opts: WaitOptions): Promise<MediaFile>;
  /** A thumbnail of it (or the original when it is smaller than asked). */
  thumbnail(serverName: string, mediaId: string, req: ThumbnailRequest, opts: WaitOptions): Promise<MediaFile>;
  /**
   * Answers waiting downloads (504) and removes the temporary directory of a server without
   * media_store_path. Called as the server stops, before its listeners close.
   */
  close(): void;
}

export interface MediaDeps {
  store: Store;
  /** Outbound federation for remote media; without it, remote media not cached is 404. */
  fedclient?: BytesFederationClient;
  serverName: string;
  config: MediaConfig;
  logger: Logger;
  now: () => number;
}

/**
 * M_NOT_YET_UPLOADED and M_CANNOT_OVERWRITE_MEDIA (content-repo.yaml) with their statuses given
 * here: errors.ts's Errcode union does not list them yet (the lead adds them there; then these
 * casts go).
 */
const notYetUploaded = () =>
  new MatrixError('M_NOT_YET_UPLOADED' as Errcode, 'Content has not yet been uploaded', { status: 504 });
const cannotOverwrite = () => new MatrixError('M_CANNOT_OVERWRITE_MEDIA' as Errcode, 'Media already uploaded', { status: 409 });
const cannotThumbnail = () => new MatrixError('M_UNKNOWN', 'Cannot generate thumbnails for the requested content', { status: 400 });
/** Synapse: "Failed to fetch remote media", 502. */
const remoteFailed = () => new MatrixError('M_UNKNOWN', 'Failed to fetch remote media', { status: 502 });
const remoteTooLarge = (limit: number) =>
  new MatrixError('M_TOO_LARGE', `Remote media is larger than the limit of ${limit} bytes`, { status: 502 });

/** A media ID from a request path: 400 M_INVALID_PARAM unless it has the spec's characters. */
export function checkMediaId(mediaId: string): void {
  if (mediaId.length > MAX_MEDIA_ID_LENGTH || !MEDIA_ID.test(mediaId)) throw invalidParam('Invalid media ID');
}

/** A server name from a request path: 400 M_INVALID_PARAM unless it is one (spec appendix "Server name"). */
export function checkServerName(serverName: string): void {
  if (!isValidServerName(serverName)) throw invalidParam('Invalid server name');
}

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

type Sharp = typeof SharpModule;

export function createMediaService(deps: MediaDeps): MediaService {
  const { store, serverName, config, logger, now, fedclient } = deps;
  let root = config.storePath;
  let temporaryRoot: string | undefined;
  let sharp: Sharp | undefined;
  /** Media IDs whose async upload is being written (a second PUT meanwhile is 409). */
  const uploading = new Set<string>();
  /** Downloads waiting for an async upload, by media ID. */
  const waiters = new Map<string, Set<() => void>>();
  /** Remote media being fetched, by origin and media ID: concurrent requests share the fetch. */
  const fetching = new Map<string, Promise<RemoteMediaRecord>>();
  let closed = false;

  function rootDir(): string {
    if (root === undefined) {
      temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-media-'));
      root = temporaryRoot;
    }
    return root;
  }
  /** Synapse's layout: local_content/ab/cd/efgh… (no directory holds too many files). */
  const contentPath = (id: string) => path.join(rootDir(), 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4) || '_');
  const thumbnailDir = (id: string) => path.join(rootDir(), 'local_thumbnails', id.slice(0, 2), id.slice(2, 4), id.slice(4) || '_');
  /** A server name as one directory name (a valid one has no `/`; `.`-only names cannot be one). */
  const originDir = (origin: string) => {
    const safe = origin.replace(/[^A-Za-z0-9.:_[\]-]/g, '_');
    return /^\.*$/.test(safe) ? `_${safe}` : safe;
  };
  /** Synapse's layout: remote_content/{origin}/ab/cd/efgh… (by our filesystem ID, not the remote's media ID). */
  const remotePath = (origin: string, fsid: string) =>
    path.join(rootDir(), 'remote_content', originDir(origin), fsid.slice(0, 2), fsid.slice(2, 4), fsid.slice(4) || '_');
  const remoteThumbnailDir = (origin: string, fsid: string) =>
    path.join(rootDir(), 'remote_thumbnails', originDir(origin), fsid.slice(0, 2), fsid.slice(2, 4), fsid.slice(4) || '_');

  const mxc = (id: string) => `mxc://${serverName}/${id}`;
  const newMediaId = () => crypto.randomBytes(18).toString('base64url');

  function checkLength(meta: UploadMeta): void {
    const length = meta.contentLength;
    if (length !== undefined && /^\d+$/.test(length) && Number(length) > config.maxUploadSize) {
      throw tooLarge(`Upload is larger than the limit of ${config.maxUploadSize} bytes`);
    }
  }

  function uploadOf(meta: UploadMeta, written: { size: number; sha256: string }): MediaUpload {
    const contentType = meta.contentType?.trim() || 'application/octet-stream';
    const uploadName = meta.filename !== undefined && meta.filename !== '' ? meta.filename : null;
    return { contentType, uploadName, size: written.size, sha256: written.sha256, uploadedTs: now() };
  }

  /** Drains what is left of a refused body, so the client can read the answer. */
  function discard(body: Readable | undefined): void {
    body?.resume();
  }

  /**
   * Streams `body` into `dest` durably (temp file, fsync, rename, directory fsync), at most
   * maxUploadSize bytes (413 M_TOO_LARGE past it, the rest drained unread).
   */
  async function writeDurably(body: Readable | undefined, dest: string): Promise<{ size: number; sha256: string }> {
    const dir = path.dirname(dest);
    const firstCreated = await fsp.mkdir(dir, { recursive: true });
    const tmpDir = path.join(rootDir(), 'tmp');
    await fsp.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${path.basename(dest)}.${crypto.randomBytes(6).toString('hex')}`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    const hash = crypto.createHash('sha256');
    let size = 0;
    try {
      if (body) {
        await new Promise<void>((resolve, reject) => {
          let failed = false;
          /** Chunks not yet written: written together (writev) once WRITE_BATCH bytes are held. */
          let pending: Buffer[] = [];
          let pendingBytes = 0;
          let writing = false;
          const fail = (err: unknown) => {
            if (failed) return;
            failed = true;
            body.off('data', onData);
            body.resume();
            reject(err);
          };
          const flush = (then: () => void) => {
            const batch = pending;
            pending = [];
            pendingBytes = 0;
            writing = true;
            writeAll(fh, batch).then(() => {
              writing = false;
              if (!failed) then();
            }, fail);
          };
          const onData = (chunk: Buffer) => {
            size += chunk.length;
            if (size > config.maxUploadSize) {
              fail(tooLarge(`Upload is larger than the limit of ${config.maxUploadSize} bytes`));
              return;
            }
            hash.update(chunk);
            pending.push(chunk);
            pendingBytes += chunk.length;
            if (pendingBytes >= WRITE_BATCH && !writing) {
              body.pause();
              flush(() => body.resume());
            }
          };
          body.on('data', onData);
          body.on('error', fail);
          body.on('aborted', () => fail(new MatrixError('M_UNKNOWN', 'Request aborted', { status: 400 })));
          body.on('end', () => {
            if (failed) return;
            // 'end' comes only after the paused stream resumed, i.e. after any write in flight.
            if (pending.length > 0) flush(resolve);
            else resolve();
          });
        });
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await fsp.rename(tmp, dest);
    await fsyncDir(dir);
    // New directories' entries live in their parents: make those durable too.
    if (firstCreated !== undefined) {
      for (let d = path.dirname(dir); ; d = path.dirname(d)) {
        await fsyncDir(d);
        if (d === path.dirname(firstCreated) || d === path.dirname(d)) break;
      }
    }
    return { size, sha256: hash.digest('hex') };
  }

  function notify(mediaId: string): void {
    const set = waiters.get(mediaId);
    if (!set) return;
    waiters.delete(mediaId);
    for (const wake of set) wake();
  }

  /** The uploaded record of a local media ID, waiting for an async upload up to the timeout. */
  async function uploaded(mediaId: string, opts: WaitOptions): Promise<LocalMediaRecord> {
    const deadline = now() + opts.timeoutMs;
    for (;;) {
      const rec = store.getLocalMedia(mediaId);
      if (!rec) throw notFound('Media not found');
      if (rec.uploadedTs !== null) return rec;
      if (rec.unusedExpiresTs !== null && rec.unusedExpiresTs <= now()) throw notFound('Media not found');
      const left = deadline - now();
      if (left <= 0 || closed || opts.signal?.aborted) throw notYetUploaded();
      await new Promise<void>((resolve) => {
        let set = waiters.get(mediaId);
        if (!set) waiters.set(mediaId, (set = new Set()));
        const s = set;
        const done = () => {
          clearTimeout(timer);
          s.delete(done);
          opts.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, left);
        s.add(done);
        opts.signal?.addEventListener('abort', done);
      });
    }
  }

  /** The failure a client sees for a remote fetch that went wrong (logged here, once). */
  function remoteFailure(origin: string, mediaId: string, err: unknown): MatrixError {
    if (err instanceof MatrixError) return err;
    if (err instanceof RemoteError && err.status === 404) return notFound('Media not found');
    if (err instanceof RemoteError && err.status === 504 && err.errcode === 'M_NOT_YET_UPLOADED') return notYetUploaded();
    if (err instanceof BodyTooLargeError || (err instanceof RemoteError && err.errcode === 'M_TOO_LARGE')) {
      logger.info('remote media too large', { origin, mediaId, limit: config.maxUploadSize });
      return remoteTooLarge(config.maxUploadSize);
    }
    logger.warn('failed to fetch remote media', { origin, mediaId, reason: (err as Error)?.message ?? String(err) });
    return remoteFailed();
  }

  /** Fetches remote media and caches it durably (file first, then its row). */
  async function fetchRemote(client: BytesFederationClient, origin: string, mediaId: string, timeoutMs: number): Promise<RemoteMediaRecord> {
    let media;
    try {
      media = await downloadRemoteMedia(client, origin, mediaId, {
        maxBytes: config.maxUploadSize,
        timeoutMs: Math.max(MIN_REMOTE_FETCH_TIMEOUT_MS, timeoutMs),
      });
    } catch (err) {
      throw remoteFailure(origin, mediaId, err);
    }
    const filesystemId = newMediaId();
    const dest = remotePath(origin, filesystemId);
    const written = await writeDurably(Readable.from([media.body]), dest);
    const rec: RemoteMediaRecord = {
      origin, mediaId, filesystemId, contentType: media.contentType, uploadName: media.uploadName,
      size: written.size, sha256: written.sha256, fetchedTs: now(),
    };
    const inserted = store.transaction(() => store.insertRemoteMedia(rec));
    if (!inserted) {
      // Another fetch of the same media won (a second process on the same database): keep its file.
      await fsp.rm(dest, { force: true });
      const existing = store.getRemoteMedia(origin, mediaId);
      if (existing) return existing;
      throw remoteFailed();
    }
    logger.info('remote media cached', { origin, mediaId, size: rec.size, via: media.via });
    return rec;
  }

  /** The cached record of remote media, fetching it first (one fetch for concurrent requests). */
  async function remoteMedia(origin: string, mediaId: string, opts: WaitOptions): Promise<RemoteMediaRecord> {
    const cached = store.getRemoteMedia(origin, mediaId);
    if (cached) return cached;
    if (opts.allowRemote === false) throw notFound('Remote media is not cached here and allow_remote is false');
    if (!fedclient || closed) throw notFound('Remote media is not available from this server');
    const key = `${origin}\u0000${mediaId}`;
    let p = fetching.get(key);
    if (!p) {
      p = fetchRemote(fedclient, origin, mediaId, opts.timeoutMs).finally(() => fetching.delete(key));
      fetching.set(key, p);
    }
    return p;
  }

  const remoteFileOf = (rec: RemoteMediaRecord): MediaFile => ({
    path: remotePath(rec.origin, rec.filesystemId),
    size: rec.size,
    contentType: rec.contentType,
    uploadName: rec.uploadName,
  });

  const fileOf = (rec: LocalMediaRecord): MediaFile => ({
    path: contentPath(rec.mediaId),
    size: rec.size ?? 0,
    contentType: rec.contentType ?? 'application/octet-stream',
    uploadName: rec.uploadName,
  });

  function loadSharp(): Sharp {
    // Required on first use (a thumbnail asked for), not at start-up: libvips costs ~40 ms to load.
    // Through a variable so the bundler leaves the native module to node_modules.
    if (!sharp) {
      const req = require;
      sharp = req('sharp') as Sharp;
      sharp.cache(false); // thumbnails are cached as files; libvips' own cache would only hold memory
    }
    return sharp;
  }

  /** A thumbnail of `original` (cached as a file in `dir`), or the original when it is small enough. */
  async function makeThumbnail(original: MediaFile, dir: string, t: ThumbnailRequest, mediaId: string): Promise<MediaFile> {
    const type = mediaTypeOf(original.contentType);
    if (!THUMBNAIL_SOURCES.has(type)) throw cannotThumbnail();
    const outType = type === 'image/jpeg' || type === 'image/jpg' ? 'image/jpeg' : 'image/png';
    const cached = path.join(dir, `${t.width}-${t.height}-${t.method}-${outType.replace('/', '-')}`);
    try {
      const st = await fsp.stat(cached);
      return { path: cached, size: st.size, contentType: outType, uploadName: null };
    } catch {
      // not made yet
    }
    const s = loadSharp();
    const source = original.path;
    let meta: { width?: number; height?: number };
    try {
      meta = await s(source, { limitInputPixels: false, animated: false }).metadata();
    } catch {
      throw cannotThumbnail();
    }
    const { width, height } = meta;
    if (!width || !height) throw cannotThumbnail();
    if (width * height > config.maxImagePixels) throw tooLarge('Image is too large to thumbnail');
    // spec "Thumbnails": never upscale; content smaller than asked is served as it is.
    if (width <= t.width && height <= t.height) return original;
    let out: Buffer;
    try {
      const img = s(source, { limitInputPixels: config.maxImagePixels, animated: false })
        .rotate() // EXIF orientation
        .resize(t.width, t.height, { fit: t.method === 'crop' ? 'cover' : 'inside', withoutEnlargement: true });
      out = await (outType === 'image/jpeg' ? img.jpeg({ quality: 80 }) : img.png()).toBuffer();
    } catch (err) {
      logger.debug('thumbnail failed', { mediaId, err });
      throw cannotThumbnail();
    }
    await fsp.mkdir(dir, { recursive: true });
    const tmp = `${cached}.${crypto.randomBytes(6).toString('hex')}`;
    await fsp.writeFile(tmp, out);
    await fsp.rename(tmp, cached);
    return { path: cached, size: out.length, contentType: outType, uploadName: null };
  }

  return {
    config: () => ({ 'm.upload.size': config.maxUploadSize }),

    async upload(userId, body, meta) {
      try {
        checkLength(meta);
      } catch (err) {
        discard(body);
        throw err;
      }
      const mediaId = newMediaId();
      const written = await writeDurably(body, contentPath(mediaId));
      const u = uploadOf(meta, written);
      store.transaction(() => store.insertLocalMedia(mediaId, userId, u));
      logger.info('media uploaded', { mediaId, userId, size: u.size });
      return { content_uri: mxc(mediaId) };
    },

    create(userId) {
      const ts = now();
      if (store.countPendingMedia(userId, ts) >= MAX_PENDING_UPLOADS) {
        throw new MatrixError('M_LIMIT_EXCEEDED', 'Too many pending media uploads', { extra: { retry_after_ms: 60_000 } });
      }
      const mediaId = newMediaId();
      const expires = ts + UNUSED_EXPIRATION_MS;
      store.transaction(() => store.insertMediaReservation(mediaId, userId, ts, expires));
      return { content_uri: mxc(mediaId), unused_expires_at: expires };
    },

    async uploadTo(userId, server, mediaId, body, meta) {
      try {
        checkServerName(server);
        checkMediaId(mediaId);
        if (server !== serverName) throw notFound('Unknown media ID');
        const rec = store.getLocalMedia(mediaId);
        if (!rec) throw notFound('Unknown media ID');
        if (rec.userId !== userId) throw forbidden('This media ID was created by another user');
        if (rec.uploadedTs !== null || uploading.has(mediaId)) throw cannotOverwrite();
        if (rec.unusedExpiresTs !== null && rec.unusedExpiresTs <= now()) throw notFound('Media ID has expired');
        checkLength(meta);
      } catch (err) {
        discard(body);
        throw err;
      }
      uploading.add(mediaId);
      try {
        const written = await writeDurably(body, contentPath(mediaId));
        const u = uploadOf(meta, written);
        const done = store.transaction(() => store.completeMediaReservation(mediaId, u));
        if (!done) throw cannotOverwrite();
        logger.info('media uploaded', { mediaId, userId, size: u.size });
      } finally {
        uploading.delete(mediaId);
      }
      notify(mediaId);
      return {};
    },

    async download(server, mediaId, opts) {
      checkServerName(server);
      checkMediaId(mediaId);
      if (server !== serverName) return remoteFileOf(await remoteMedia(server, mediaId, opts));
      return fileOf(await uploaded(mediaId, opts));
    },

    async thumbnail(server, mediaId, t, opts) {
      checkServerName(server);
      checkMediaId(mediaId);
      if (server !== serverName) {
        const rec = await remoteMedia(server, mediaId, opts);
        return makeThumbnail(remoteFileOf(rec), remoteThumbnailDir(rec.origin, rec.filesystemId), t, mediaId);
      }
      const rec = await uploaded(mediaId, opts);
      return makeThumbnail(fileOf(rec), thumbnailDir(rec.mediaId), t, mediaId);
    },

    close() {
      closed = true;
      for (const set of waiters.values()) for (const wake of set) wake();
      waiters.clear();
      if (temporaryRoot) fs.rmSync(temporaryRoot, { recursive: true, force: true });
    },
  };
}

/** Writes every byte of `chunks` (writev may write fewer: the rest is written on). */
async function writeAll(fh: fsp.FileHandle, chunks: Buffer[]): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten < total) {
    let rest = Buffer.concat(chunks).subarray(bytesWritten);
    while (rest.length > 0) {
      const r = await fh.write(rest);
      rest = rest.subarray(r.bytesWritten);
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Platforms that cannot fsync a directory (Windows) make the entry durable with the file.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw e;
  } finally {
    await fh?.close();
  }
}
