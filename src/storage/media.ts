/**
 * The part of the storage interface behind the media repository (services/media.ts): metadata of
 * local media and async-upload reservations, and the cache of remote media fetched over federation
 * (migration 0016). The bytes are files (media_store_path), not rows.
 * `Store` extends it (store.ts); storage/sqlite/media.ts implements it.
 */

export interface LocalMediaRecord {
  mediaId: string;
  /** The uploader (or, for a reservation, the user who created it). */
  userId: string;
  createdTs: number;
  /** For a reservation not yet uploaded to: when it expires; null otherwise. */
  unusedExpiresTs: number | null;
  /** null while a reservation waits for its upload. */
  uploadedTs: number | null;
  contentType: string | null;
  uploadName: string | null;
  size: number | null;
  sha256: string | null;
}

/** What an upload records once its file is durable. */
export interface MediaUpload {
  contentType: string;
  uploadName: string | null;
  size: number;
  sha256: string;
  uploadedTs: number;
}

/** A remote server's media, fetched once and kept (mxc://{origin}/{mediaId}). */
export interface RemoteMediaRecord {
  origin: string;
  mediaId: string;
  /** The file's name under remote_content/{origin}/ (ours, not the remote's media ID). */
  filesystemId: string;
  contentType: string;
  uploadName: string | null;
  size: number;
  sha256: string;
  fetchedTs: number;
}

export interface MediaStore {
  getLocalMedia(mediaId: string): LocalMediaRecord | undefined;
  /** A complete upload (POST /upload). */
  insertLocalMedia(mediaId: string, userId: string, upload: MediaUpload): void;
  /** A reservation (POST /create), not yet uploaded to. */
  insertMediaReservation(mediaId: string, userId: string, createdTs: number, unusedExpiresTs: number): void;
  /** Fills a reservation; false when it was already filled (or does not exist). */
  completeMediaReservation(mediaId: string, upload: MediaUpload): boolean;
  /** How many of the user's reservations are neither uploaded to nor expired at `nowTs`. */
  countPendingMedia(userId: string, nowTs: number): number;
  getRemoteMedia(origin: string, mediaId: string): RemoteMediaRecord | undefined;
  /** Records fetched remote media whose file is durable; false (and nothing changed) when a row was already there. */
  insertRemoteMedia(rec: RemoteMediaRecord): boolean;
}
