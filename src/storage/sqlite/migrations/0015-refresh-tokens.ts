/**
 * 15: refresh tokens and expiring access tokens (spec: client-server-api "Login" → "Refreshing
 * access tokens", refresh.yaml). A refresh token lives on the row of the access token it was
 * issued with (SHA-256, as access tokens are): refreshing replaces the row. Until the new pair is
 * first used, its row remembers the refresh token it replaced (`prev_refresh_token_hash`), so a
 * client that lost the /refresh answer can refresh with the old one again ("The old refresh
 * token remains valid until the new access token or refresh token is used").
 * `expires_ts`/`refresh_expires_ts` are null for tokens that do not expire.
 */
export default `
  ALTER TABLE access_tokens ADD COLUMN expires_ts INTEGER;
  ALTER TABLE access_tokens ADD COLUMN refresh_token_hash TEXT;
  ALTER TABLE access_tokens ADD COLUMN refresh_expires_ts INTEGER;
  ALTER TABLE access_tokens ADD COLUMN prev_refresh_token_hash TEXT;
  CREATE UNIQUE INDEX access_tokens_refresh ON access_tokens (refresh_token_hash) WHERE refresh_token_hash IS NOT NULL;
  CREATE INDEX access_tokens_prev_refresh ON access_tokens (prev_refresh_token_hash) WHERE prev_refresh_token_hash IS NOT NULL;
`;
