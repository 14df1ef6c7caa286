/**
 * Rate limits for a local test homeserver, as YAML top-level keys to append to a config.
 * Doorstep's defaults are Synapse's (e.g. 3 registrations per client IP, then one per 6 s), which
 * a test suite or benchmark registering hundreds of users from 127.0.0.1 would hit at once.
 * Used by the project's own spawned servers (bench/, tests, scripts/federation-pair.js, the
 * Complement image); config.example.yaml carries the same block.
 */
const fast = '{per_second: 1000, burst_count: 10000}';
const LIMITS = {
  rc_login: `{address: ${fast}, account: ${fast}, failed_attempts: ${fast}}`,
  rc_registration: fast,
  rc_message: fast,
  rc_joins: `{local: ${fast}, remote: ${fast}}`,
  rc_invites: `{per_room: ${fast}, per_user: ${fast}, per_issuer: ${fast}}`,
  rc_room_creation: fast,
  rc_knock: fast,
};

/** The rc_* lines for every key `existingYaml` does not set itself (YAML keys must be unique). */
function testRateLimitsYaml(existingYaml = '') {
  return Object.entries(LIMITS)
    .filter(([key]) => !new RegExp(`^${key}:`, 'm').test(existingYaml))
    .map(([key, value]) => `${key}: ${value}\n`)
    .join('');
}

module.exports = { testRateLimitsYaml };

if (require.main === module) process.stdout.write(testRateLimitsYaml());
