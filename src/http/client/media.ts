/**
 * The content repository (spec: client-server-api "Content repository"; authed-content-repo.yaml
 * for /_matrix/client/v1/media/*, content-repo.yaml for the legacy /_matrix/media/{v3,r0,v1}/* and
 * /_matrix/media/v1/create). Uploads are `body: 'raw'` routes (the bytes are not JSON); downloads
 * and thumbnails answer bytes (route.ts BinaryResponse).
 *
 * The legacy unauthenticated download and thumbnail endpoints are served for all media, uploaded
 * before or after 1.11 (the spec's "freeze" is a SHOULD that Synapse applies by default): Doorstep
 * is a test homeserver, and clients and tests that still use them expect them to work. There,
 * `allow_remote=false` (content-repo.yaml) answers 404 for remote media not already cached, without
 * fetching it (other servers fall back to these endpoints with it, so two servers cannot loop).
 */
import fsp from 'node:fs/promises';
import { missingParam, invalidParam, notFound, unrecognized } from '../../errors';
import type { Services } from '../../services';
import {
  DEFAULT_MEDIA_TIMEOUT_MS, MAX_MEDIA_TIMEOUT_MS, mediaTypeOf, type MediaFile, type ThumbnailMethod, type UploadMeta, type WaitOptions,
} from '../../services/media';
import { queryEnum, queryInt, queryString } from '../query';
import { BinaryResponse, requesterOf, type Route, type RouteAuth, type RouteRequest } from '../route';

const V1 = '/_matrix/client/v1/media';
/** The legacy prefixes Synapse still serves (v3; r0 and v1 for older clients). */
const LEGACY = ['/_matrix/media/v3', '/_matrix/media/r0', '/_matrix/media/v1'];
const legacy = (suffix: string) => LEGACY.map((p) => `${p}${suffix}`);

/** spec "Serving inline content": the only types served with `Content-Disposition: inline`. */
const INLINE_TYPES: ReadonlySet<string> = new Set([
  'text/css', 'text/plain', 'text/csv', 'application/json', 'application/ld+json', 'image/jpeg', 'image/gif', 'image/png',
  'image/apng', 'image/webp', 'image/avif', 'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime', 'audio/mp4',
  'audio/webm', 'audio/aac', 'audio/mpeg', 'audio/ogg', 'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/x-pn-wav',
  'audio/flac', 'audio/x-flac',
]);

/** spec "Content repository": the recommended policy for served content. */
const CONTENT_SECURITY_POLICY =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

/** Whether a stored Content-Type may be served inline. */
export function isInlineType(contentType: string): boolean {
  return INLINE_TYPES.has(mediaTypeOf(contentType));
}

/**
 * A Content-Disposition value (RFC 6266): `inline` or `attachment`, with the file name as a
 * quoted string when it is printable ASCII, else as RFC 8187 `filename*=utf-8''…`.
 */
export function contentDisposition(kind: 'inline' | 'attachment', fileName: string | null): string {
  if (fileName === null || fileName === '') return kind;
  if (/^[\x20-\x7e]*$/.test(fileName) && !/["\\]/.test(fileName)) return `${kind}; filename="${fileName}"`;
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename*=utf-8''${encoded}`;
}

/** The headers every served file carries (spec "Content repository": CSP and CORP). */
export function mediaHeaders(file: MediaFile, disposition: string): Record<string, string> {
  return {
    'Content-Type': file.contentType,
    'Content-Disposition': disposition,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'Cross-Origin-Resource-Policy': 'cross-origin',
    'X-Content-Type-Options': 'nosniff',
  };
}

/** Opens a file to stream (404 when it has gone missing from the media store). */
export async function openMedia(file: MediaFile): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file.path, 'r');
  } catch {
    throw notFound('Media not found');
  }
}

async function serve(file: MediaFile, disposition: string): Promise<BinaryResponse> {
  const fh = await openMedia(file);
  const headers = { ...mediaHeaders(file, disposition), 'Content-Length': String(file.size) };
  return new BinaryResponse(fh.createReadStream({ highWaterMark: 1024 * 1024 }), headers);
}

/** timeout_ms (authed-content-repo.yaml): default 20 s, at most 60 s; allow_remote (content-repo.yaml, legacy only): default true. */
function waitOf(req: RouteRequest, legacyEndpoint: boolean): WaitOptions {
  const timeoutMs = queryInt(req, 'timeout_ms', { max: MAX_MEDIA_TIMEOUT_MS }) ?? DEFAULT_MEDIA_TIMEOUT_MS;
  const allowRemote = legacyEndpoint ? queryEnum(req, 'allow_remote', ['true', 'false']) !== 'false' : true;
  return { timeoutMs, signal: req.signal, allowRemote };
}

function uploadMetaOf(req: RouteRequest): UploadMeta {
  return { contentType: req.header?.('content-type'), filename: queryString(req, 'filename'), contentLength: req.header?.('content-length') };
}

/** width / height of a thumbnail: a required positive integer. */
function dimension(req: RouteRequest, name: string): number {
  const v = queryInt(req, name, { max: 100_000 });
  if (v === undefined) throw missingParam(`Missing ${name} parameter`);
  if (v < 1) throw invalidParam(`${name} must be a positive integer`);
  return v;
}

/** The thumbnail parameters (width, height required; method crop|scale, default scale). */
export function thumbnailRequestOf(req: RouteRequest): { width: number; height: number; method: ThumbnailMethod } {
  return {
    width: dimension(req, 'width'),
    height: dimension(req, 'height'),
    method: queryEnum<ThumbnailMethod>(req, 'method', ['crop', 'scale']) ?? 'scale',
  };
}

export function mediaRoutes(s: Pick<Services, 'media'>): Route[] {
  const media = s.media;
  const download = (legacyEndpoint: boolean) => async (req: RouteRequest): Promise<BinaryResponse> => {
    const file = await media.download(req.params.serverName!, req.params.mediaId!, waitOf(req, legacyEndpoint));
    const name = req.params.fileName ?? file.uploadName;
    return serve(file, contentDisposition(isInlineType(file.contentType) ? 'inline' : 'attachment', name));
  };
  const thumbnail = (legacyEndpoint: boolean) => async (req: RouteRequest): Promise<BinaryResponse> => {
    const t = thumbnailRequestOf(req);
    const file = await media.thumbnail(req.params.serverName!, req.params.mediaId!, t, waitOf(req, legacyEndpoint));
    const ext = file.contentType === 'image/jpeg' ? 'jpg' : (mediaTypeOf(file.contentType).split('/')[1] ?? 'bin');
    // Thumbnails are always inline (authed-content-repo.yaml); only image types get here.
    return serve(file, contentDisposition('inline', `thumbnail.${ext}`));
  };
  const downloads = (prefixes: string[], auth: RouteAuth, legacyEndpoint: boolean): Route[] => [
    { method: 'GET', paths: prefixes.map((p) => `${p}/download/:serverName/:mediaId`), auth, handle: download(legacyEndpoint) },
    { method: 'GET', paths: prefixes.map((p) => `${p}/download/:serverName/:mediaId/:fileName`), auth, handle: download(legacyEndpoint) },
    { method: 'GET', paths: prefixes.map((p) => `${p}/thumbnail/:serverName/:mediaId`), auth, handle: thumbnail(legacyEndpoint) },
  ];
  const previewDisabled = () => {
    // Synapse without url_preview_enabled does not serve the endpoint (404 M_UNRECOGNIZED).
    throw unrecognized('URL previews are disabled');
  };
  return [
    { method: 'GET', paths: [`${V1}/config`, ...legacy('/config')], auth: 'token', handle: () => media.config() },
    {
      method: 'POST',
      paths: legacy('/upload'),
      auth: 'token',
      body: 'raw',
      handle: (req) => media.upload(requesterOf(req).userId, req.rawBody, uploadMetaOf(req)),
    },
    { method: 'POST', paths: ['/_matrix/media/v1/create'], auth: 'token', handle: (req) => media.create(requesterOf(req).userId) },
    {
      method: 'PUT',
      paths: legacy('/upload/:serverName/:mediaId'),
      auth: 'token',
      body: 'raw',
      handle: (req) => media.uploadTo(requesterOf(req).userId, req.params.serverName!, req.params.mediaId!, req.rawBody, uploadMetaOf(req)),
    },
    ...downloads([V1], 'token', false),
    ...downloads(LEGACY, 'none', true),
    { method: 'GET', paths: [`${V1}/preview_url`, ...legacy('/preview_url')], auth: 'token', handle: previewDisabled },
  ];
}
