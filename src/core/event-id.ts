/**
 * Event IDs (spec: rooms/fragments/v1-event-ids.md; rooms/v3.md "Event IDs";
 * rooms/fragments/v4-event-ids.md).
 * - v1, v2: chosen by the origin and carried in the PDU as `event_id`.
 * - v3: `$` + reference hash in standard unpadded Base64.
 * - v4+: `$` + reference hash in URL-safe unpadded Base64.
 * For v3+ the PDU must not carry an `event_id` key (it would be hashed, as the spec algorithm says).
 */
import { encodeUnpaddedBase64, encodeUnpaddedBase64Url } from './base64';
import { CoreError } from './errors';
import { computeReferenceHash } from './hashes';
import type { EventLike } from './redaction';
import type { RoomVersion } from './room-versions';

export function eventIdFor(pdu: EventLike, version: RoomVersion): string {
  switch (version.eventIdFormat) {
    case 'v1': {
      const id = pdu['event_id'];
      if (typeof id !== 'string' || id.length === 0) {
        throw new CoreError('bad_json', `room version ${version.id} events must carry an event_id`);
      }
      return id;
    }
    case 'v3':
    case 'v4':
      return eventIdFromReferenceHash(computeReferenceHash(pdu, version), version);
  }
}

/** The v3+ event ID for a reference hash already computed (signing.hashAndSignEvent). */
export function eventIdFromReferenceHash(hash: Buffer, version: RoomVersion): string {
  if (version.eventIdFormat === 'v1') throw new CoreError('bad_json', `room version ${version.id} event IDs are not hashes`);
  return '$' + (version.eventIdFormat === 'v3' ? encodeUnpaddedBase64(hash) : encodeUnpaddedBase64Url(hash));
}
