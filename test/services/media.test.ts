/**
 * Media configuration (Synapse's keys: media_store_path, max_upload_size, max_image_pixels) and
 * the service's durable writes (spec: client-server-api "Content repository").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buildConfig, ConfigError, parseSize } from '../../src/config';
import { createLogger } from '../../src/log';
import { createMediaService } from '../../src/services/media';
import { createSqliteStore } from '../../src/storage/sqlite';
import sharp from 'sharp';

const files = (d: string): string[] =>
  fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)) : [e.name]));
const noMeta = { contentType: undefined, filename: undefined, contentLength: undefined };

describe('parseSize', () => {
  it('reads K, M, G suffixes as powers of 1024 and a bare number as bytes, as Synapse', () => {
    expect(parseSize('max_upload_size', '50M')).toBe(50 * 1024 * 1024);
    expect(parseSize('max_upload_size', '10K')).toBe(10 * 1024);
    expect(parseSize('max_upload_size', '1G')).toBe(1024 ** 3);
    expect(parseSize('max_upload_size', '123')).toBe(123);
    expect(parseSize('max_upload_size', 4096)).toBe(4096);
  });

  it('throws a ConfigError naming the key when the value is not a size', () => {
    expect(() => parseSize('max_upload_size', '5 megabytes')).toThrow(ConfigError);
    expect(() => parseSize('max_upload_size', '5 megabytes')).toThrow(/max_upload_size/);
  });
});

describe('buildConfig (media keys)', () => {
  it('defaults max_upload_size to 50M and puts media_store next to the database file', () => {
    const { config } = buildConfig({ server_name: 'a.test', database: { name: 'sqlite3', args: { database: 'db/hs.db' } } }, '/srv');
    expect(config.maxUploadSize).toBe(50 * 1024 * 1024);
    expect(config.maxImagePixels).toBe(32 * 1024 * 1024);
    expect(config.mediaStorePath).toBe(path.resolve('/srv/db/media_store'));
  });

  it('has no media_store_path for a :memory: database and honours the key when given', () => {
    const mem = buildConfig({ server_name: 'a.test', database: { name: 'sqlite3', args: { database: ':memory:' } } }).config;
    expect(mem.mediaStorePath).toBeUndefined();
    const set = buildConfig({ server_name: 'a.test', media_store_path: 'm', max_upload_size: '2K' }, '/srv').config;
    expect(set.mediaStorePath).toBe(path.resolve('/srv/m'));
    expect(set.maxUploadSize).toBe(2048);
  });

  it('stops with an error naming max_upload_size when it is not a size', () => {
    expect(() => buildConfig({ server_name: 'a.test', max_upload_size: 'lots' })).toThrow(/max_upload_size/);
  });
});

describe('createMediaService', () => {
  const logger = createLogger('error', () => {});

  it('leaves no row and no file when the upload is over the limit, and its temp directory is removed at close', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const media = createMediaService({ store, serverName: 'a.test', logger, now: Date.now, config: { storePath: undefined, maxUploadSize: 10, maxImagePixels: 1e6 } });
    const ok = await media.upload('@u:a.test', Readable.from([Buffer.from('12345')]), { contentType: 'text/plain', filename: undefined, contentLength: undefined });
    const file = await media.download('a.test', ok.content_uri.split('/').pop()!, { timeoutMs: 0 });
    const root = path.resolve(file.path, '../../../..');
    expect(fs.readFileSync(file.path, 'utf8')).toBe('12345');
    await expect(
      media.upload('@u:a.test', Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), { contentType: undefined, filename: undefined, contentLength: undefined }),
    ).rejects.toMatchObject({ errcode: 'M_TOO_LARGE', status: 413 });
    expect(files(root)).toHaveLength(1);
    media.close();
    store.close();
    expect(fs.existsSync(root)).toBe(false);
  });

  it('writes under media_store_path when one is given', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-media-svc-'));
    try {
      const store = createSqliteStore({ path: ':memory:' });
      const media = createMediaService({ store, serverName: 'a.test', logger, now: Date.now, config: { storePath: dir, maxUploadSize: 100, maxImagePixels: 1e6 } });
      const ok = await media.upload('@u:a.test', Readable.from([Buffer.from('abc')]), { contentType: undefined, filename: 'f', contentLength: '3' });
      const file = await media.download('a.test', ok.content_uri.split('/').pop()!, { timeoutMs: 0 });
      expect(file.path.startsWith(path.join(dir, 'local_content'))).toBe(true);
      expect(file).toMatchObject({ size: 3, contentType: 'application/octet-stream', uploadName: 'f' });
      media.close();
      store.close();
      expect(fs.existsSync(file.path)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no file and no row when the body fails midway (client gone)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-media-svc-'));
    const store = createSqliteStore({ path: ':memory:' });
    const media = createMediaService({ store, serverName: 'a.test', logger, now: Date.now, config: { storePath: dir, maxUploadSize: 1e6, maxImagePixels: 1e6 } });
    try {
      const body = new Readable({ read() {} });
      const p = media.upload('@u:a.test', body, noMeta);
      body.push(Buffer.alloc(1000));
      setTimeout(() => body.destroy(new Error('socket hang up')), 20);
      await expect(p).rejects.toThrow('socket hang up');
      expect(files(dir)).toEqual([]);
    } finally {
      media.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 413 M_TOO_LARGE for a thumbnail when the image has more pixels than max_image_pixels', async () => {
    // spec "Security considerations": too large to thumbnail → 413 M_TOO_LARGE
    const store = createSqliteStore({ path: ':memory:' });
    const media = createMediaService({ store, serverName: 'a.test', logger, now: Date.now, config: { storePath: undefined, maxUploadSize: 1e6, maxImagePixels: 1000 } });
    try {
      const img = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#123456' } }).png().toBuffer();
      const { content_uri } = await media.upload('@u:a.test', Readable.from([img]), { ...noMeta, contentType: 'image/png' });
      const id = content_uri.split('/').pop()!;
      await expect(media.thumbnail('a.test', id, { width: 10, height: 10, method: 'scale' }, { timeoutMs: 0 })).rejects.toMatchObject({ errcode: 'M_TOO_LARGE', status: 413 });
    } finally {
      media.close();
      store.close();
    }
  });
});
