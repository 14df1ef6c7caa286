/**
 * Federation media (spec: server-server-api "Content Repository"; content_repository.yaml):
 * GET /_matrix/federation/v1/media/download/{mediaId} and /thumbnail/{mediaId} serve our local
 * media to other servers as multipart/mixed: a JSON part (`{}`, the metadata) and the bytes with
 * their Content-Type and Content-Disposition. X-Matrix authenticated.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { Services } from '../../services';
import type { MediaFile } from '../../services/media';
import { DEFAULT_MEDIA_TIMEOUT_MS, MAX_MEDIA_TIMEOUT_MS } from '../../services/media';
import { contentDisposition, isInlineType, openMedia, thumbnailRequestOf } from '../client/media';
import { queryInt } from '../query';
import { BinaryResponse, type Route, type RouteRequest } from '../route';

const V1 = '/_matrix/federation/v1/media';

/** The two parts as one stream, its length known up front. */
async function multipart(file: MediaFile, disposition: string): Promise<BinaryResponse> {
  const fh = await openMedia(file);
  const boundary = crypto.randomBytes(16).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n` +
      `--${boundary}\r\nContent-Type: ${file.contentType.replace(/[\r\n]/g, '')}\r\nContent-Disposition: ${disposition}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    try {
      for await (const chunk of fh.createReadStream({ autoClose: false })) yield chunk as Buffer;
    } finally {
      await fh.close();
    }
    yield tail;
  }
  return new BinaryResponse(Readable.from(parts(), { objectMode: false }), {
    'Content-Type': `multipart/mixed; boundary=${boundary}`,
    'Content-Length': String(head.length + file.size + tail.length),
  });
}

function waitOf(req: RouteRequest) {
  return { timeoutMs: queryInt(req, 'timeout_ms', { max: MAX_MEDIA_TIMEOUT_MS }) ?? DEFAULT_MEDIA_TIMEOUT_MS, signal: req.signal };
}

export function federationMediaRoutes(s: Pick<Services, 'media' | 'serverName'>): Route[] {
  return [
    {
      method: 'GET',
      paths: [`${V1}/download/:mediaId`],
      auth: 'x-matrix',
      handle: async (req) => {
        const file = await s.media.download(s.serverName, req.params.mediaId!, waitOf(req));
        return multipart(file, contentDisposition(isInlineType(file.contentType) ? 'inline' : 'attachment', file.uploadName));
      },
    },
    {
      method: 'GET',
      paths: [`${V1}/thumbnail/:mediaId`],
      auth: 'x-matrix',
      handle: async (req) => {
        const file = await s.media.thumbnail(s.serverName, req.params.mediaId!, thumbnailRequestOf(req), waitOf(req));
        return multipart(file, contentDisposition('inline', 'thumbnail'));
      },
    },
  ];
}
