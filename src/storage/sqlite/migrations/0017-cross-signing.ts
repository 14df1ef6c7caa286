/**
 * 17: cross-signing (spec: client-server-api "Cross-signing", cross_signing.yaml). A local user's
 * cross-signing keys, one per usage (`master`, `self_signing`, `user_signing`; an upload replaces
 * the usage's key), and the signatures uploaded with POST /keys/signatures/upload, kept apart from
 * the signed objects (as Synapse does) so a device re-uploading its keys keeps them. A signature's
 * target is a device ID or a cross-signing public key (unpadded base64, which the spec treats as a
 * device ID); reads go by target, so the key starts with it.
 */
export default `
  CREATE TABLE cross_signing_keys (
    user_id TEXT NOT NULL,
    usage TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, usage)
  ) WITHOUT ROWID;
  CREATE TABLE cross_signing_signatures (
    target_user_id TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    signer_user_id TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
  ) WITHOUT ROWID;
`;
