/**
 * The rc_* keys as Synapse names them and their defaults (Synapse config documentation
 * "Ratelimiting": rc_message, rc_registration, rc_login, rc_joins, rc_invites, rc_room_creation).
 */
import { ConfigError, DEFAULT_RATE_LIMITS, parseConfig, testConfig } from '../src/config';

describe('parseConfig (rc_* rate limits)', () => {
  it("uses Synapse's defaults when no rc_* key is set", () => {
    const { config } = parseConfig('server_name: example.org\n');
    expect(config.rcLogin).toEqual({
      address: { perSecond: 0.003, burstCount: 5 },
      account: { perSecond: 0.003, burstCount: 5 },
      failedAttempts: { perSecond: 0.17, burstCount: 3 },
    });
    expect(config.rcRegistration).toEqual({ perSecond: 0.17, burstCount: 3 });
    expect(config.rcMessage).toEqual({ perSecond: 0.2, burstCount: 10 });
    expect(config.rcJoins).toEqual({ local: { perSecond: 0.1, burstCount: 10 }, remote: { perSecond: 0.01, burstCount: 10 } });
    expect(config.rcInvites).toEqual({
      perRoom: { perSecond: 0.3, burstCount: 10 },
      perUser: { perSecond: 0.003, burstCount: 5 },
      perIssuer: { perSecond: 0.3, burstCount: 10 },
    });
    expect(config.rcRoomCreation).toEqual({ perSecond: 0.016, burstCount: 10 });
    expect(config.rcKnock).toEqual({ perSecond: 10, burstCount: 100 });
  });

  it('reads every rc_* block and sub-block, a missing field keeping its default, and reports none as unknown', () => {
    const { config, unknownKeys } = parseConfig(`
server_name: example.org
rc_login:
  address: {per_second: 1, burst_count: 2}
  failed_attempts: {burst_count: 7}
rc_registration: {per_second: 3, burst_count: 4}
rc_message: {per_second: 5}
rc_joins:
  remote: {per_second: 0.5, burst_count: 6}
rc_invites:
  per_room: {per_second: 2, burst_count: 20}
  per_user: {per_second: 0.1, burst_count: 1}
  per_issuer: {per_second: 0.2, burst_count: 2}
rc_room_creation: {per_second: 1, burst_count: 5}
`);
    expect(unknownKeys).toEqual([]);
    expect(config.rcLogin).toEqual({
      address: { perSecond: 1, burstCount: 2 },
      account: DEFAULT_RATE_LIMITS.rcLogin.account,
      failedAttempts: { perSecond: 0.17, burstCount: 7 },
    });
    expect(config.rcRegistration).toEqual({ perSecond: 3, burstCount: 4 });
    expect(config.rcMessage).toEqual({ perSecond: 5, burstCount: 10 });
    expect(config.rcJoins).toEqual({ local: DEFAULT_RATE_LIMITS.rcJoins.local, remote: { perSecond: 0.5, burstCount: 6 } });
    expect(config.rcInvites).toEqual({
      perRoom: { perSecond: 2, burstCount: 20 },
      perUser: { perSecond: 0.1, burstCount: 1 },
      perIssuer: { perSecond: 0.2, burstCount: 2 },
    });
    expect(config.rcRoomCreation).toEqual({ perSecond: 1, burstCount: 5 });
  });

  it('refuses a per_second of 0 or a burst_count below 1, naming the key', () => {
    expect(() => parseConfig('server_name: x\nrc_message: {per_second: 0}\n')).toThrow(ConfigError);
    expect(() => parseConfig('server_name: x\nrc_login: {failed_attempts: {burst_count: 0}}\n')).toThrow(/rc_login/);
    expect(() => parseConfig('server_name: x\nrc_invites: {per_issuer: {per_second: "fast"}}\n')).toThrow(/rc_invites/);
  });

  it("leaves the defaults Synapse's while testConfig raises them for fast test clients", () => {
    expect(testConfig().rcRoomCreation.burstCount).toBeGreaterThan(1000);
    expect(testConfig().rcLogin.failedAttempts.burstCount).toBeGreaterThan(1000);
    expect(parseConfig('server_name: x\n').config.rcRoomCreation).toEqual({ perSecond: 0.016, burstCount: 10 });
  });
});
