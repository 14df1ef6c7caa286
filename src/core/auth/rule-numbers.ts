/**
 * The spec's own rule numbers for a room version, derived from the version flags, so an AuthError
 * cites exactly the rule of that version's text:
 *
 * - v1–v5 have rule 4 for m.room.aliases (flag `specialCaseAliasesAuth`), shifting m.room.member to 5.
 * - v7 adds the knock sub-rule of m.room.member (`knocking`).
 * - v8 adds the `join_authorised_via_users_server` sub-rule 4.2 and the restricted join sub-rule
 *   (`restrictedJoins`), shifting join to 4.3, …, knock to 4.7.
 * - v10 adds power-level sub-rules 9.1 and 9.2 (`integerPowerLevels`).
 * - v11 drops create sub-rule 1.4 "no creator" (`implicitRoomCreator`).
 * - v1–v2 end with the m.room.redaction rule (see `hasRedactionAuthRule`).
 */
import type { RoomVersion } from '../room-versions';

/**
 * Room versions 1 and 2 have the m.room.redaction rule ("the domain of the event_id of the event
 * being redacted is the same as …"). It was dropped in v3 when event IDs stopped carrying a domain,
 * so the event ID format is the flag that drives it.
 */
export function hasRedactionAuthRule(version: RoomVersion): boolean {
  return version.eventIdFormat === 'v1';
}

export interface AuthRuleNumbers {
  create: { prevEvents: string; roomIdDomain: string; roomVersion: string; noCreator?: string; allow: string };
  authEvents: { duplicate: string; unexpected: string; rejected: string; noCreate: string; roomId: string };
  federate: string;
  aliases?: { noStateKey: string; domain: string; allow: string };
  member: {
    root: string;
    shape: string;
    joinAuthorisedVia?: string;
    join: {
      root: string;
      creator: string;
      notSelf: string;
      banned: string;
      invite: string;
      restricted?: { allowMember: string; authoriser: string; allow: string };
      public: string;
      otherwise: string;
    };
    invite: {
      root: string;
      thirdParty: {
        targetBanned: string;
        noSigned: string;
        noMxidToken: string;
        mxidMismatch: string;
        noInviteEvent: string;
        senderMismatch: string;
        signature: string;
        otherwise: string;
      };
      senderNotJoined: string;
      targetJoinedOrBanned: string;
      allow: string;
      otherwise: string;
    };
    leave: { root: string; self: string; senderNotJoined: string; targetBanned: string; kick: string; otherwise: string };
    ban: { root: string; senderNotJoined: string; allow: string; otherwise: string };
    knock?: { root: string; joinRule: string; notSelf: string; allow: string; otherwise: string };
    unknown: string;
  };
  senderJoined: string;
  thirdPartyInvite: string;
  requiredPowerLevel: string;
  stateKeyUserId: string;
  powerLevels: {
    root: string;
    /** v10+ */
    integerFields?: string;
    /** v10+ */
    integerMaps?: string;
    users: string;
    noPrevious: string;
    fieldCurrent: string;
    fieldNew: string;
    mapCurrent: string;
    mapNew: string;
    usersCurrent: string;
    usersNew: string;
    allow: string;
  };
  redaction?: { redactLevel: string; sameDomain: string; otherwise: string };
  allow: string;
}

/** Computed once per room version object (checkAuth asks for them on every check). */
const memo = new WeakMap<RoomVersion, AuthRuleNumbers>();

export function authRuleNumbers(version: RoomVersion): AuthRuleNumbers {
  let rules = memo.get(version);
  if (!rules) memo.set(version, (rules = computeAuthRuleNumbers(version)));
  return rules;
}

function computeAuthRuleNumbers(version: RoomVersion): AuthRuleNumbers {
  const m = version.specialCaseAliasesAuth ? 5 : 4;
  const sub = (n: number) => `${m}.${n}`;
  const j = version.restrictedJoins ? 3 : 2; // join sub-rule
  const join = sub(j);
  const invite = sub(j + 1);
  const leave = sub(j + 2);
  const ban = sub(j + 3);
  const knock = version.knocking ? sub(j + 4) : undefined;
  const unknown = sub(j + (version.knocking ? 5 : 4));
  const pl = String(m + 5);
  const o = version.integerPowerLevels ? 2 : 0; // power-level sub-rule offset
  const plSub = (n: number) => `${pl}.${n + o}`;
  const redaction = hasRedactionAuthRule(version) ? String(m + 6) : undefined;

  return {
    create: version.implicitRoomCreator
      ? { prevEvents: '1.1', roomIdDomain: '1.2', roomVersion: '1.3', allow: '1.4' }
      : { prevEvents: '1.1', roomIdDomain: '1.2', roomVersion: '1.3', noCreator: '1.4', allow: '1.5' },
    authEvents: { duplicate: '2.1', unexpected: '2.2', rejected: '2.3', noCreate: '2.4', roomId: '2.5' },
    federate: '3',
    ...(version.specialCaseAliasesAuth ? { aliases: { noStateKey: '4.1', domain: '4.2', allow: '4.3' } } : {}),
    member: {
      root: String(m),
      shape: sub(1),
      ...(version.restrictedJoins ? { joinAuthorisedVia: `${sub(2)}.1` } : {}),
      join: {
        root: join,
        creator: `${join}.1`,
        notSelf: `${join}.2`,
        banned: `${join}.3`,
        invite: `${join}.4`,
        ...(version.restrictedJoins
          ? { restricted: { allowMember: `${join}.5.1`, authoriser: `${join}.5.2`, allow: `${join}.5.3` } }
          : {}),
        public: `${join}.${version.restrictedJoins ? 6 : 5}`,
        otherwise: `${join}.${version.restrictedJoins ? 7 : 6}`,
      },
      invite: {
        root: invite,
        thirdParty: {
          targetBanned: `${invite}.1.1`,
          noSigned: `${invite}.1.2`,
          noMxidToken: `${invite}.1.3`,
          mxidMismatch: `${invite}.1.4`,
          noInviteEvent: `${invite}.1.5`,
          senderMismatch: `${invite}.1.6`,
          signature: `${invite}.1.7`,
          otherwise: `${invite}.1.8`,
        },
        senderNotJoined: `${invite}.2`,
        targetJoinedOrBanned: `${invite}.3`,
        allow: `${invite}.4`,
        otherwise: `${invite}.5`,
      },
      leave: {
        root: leave,
        self: `${leave}.1`,
        senderNotJoined: `${leave}.2`,
        targetBanned: `${leave}.3`,
        kick: `${leave}.4`,
        otherwise: `${leave}.5`,
      },
      ban: { root: ban, senderNotJoined: `${ban}.1`, allow: `${ban}.2`, otherwise: `${ban}.3` },
      ...(knock
        ? {
            knock: {
              root: knock,
              joinRule: `${knock}.1`,
              notSelf: `${knock}.2`,
              allow: `${knock}.3`,
              otherwise: `${knock}.4`,
            },
          }
        : {}),
      unknown,
    },
    senderJoined: String(m + 1),
    thirdPartyInvite: `${m + 2}.1`,
    requiredPowerLevel: String(m + 3),
    stateKeyUserId: String(m + 4),
    powerLevels: {
      root: pl,
      ...(version.integerPowerLevels ? { integerFields: `${pl}.1`, integerMaps: `${pl}.2` } : {}),
      users: plSub(1),
      noPrevious: plSub(2),
      fieldCurrent: `${plSub(3)}.1`,
      fieldNew: `${plSub(3)}.2`,
      mapCurrent: `${plSub(4)}.1`,
      mapNew: `${plSub(5)}.1`,
      usersCurrent: `${plSub(6)}.1`,
      usersNew: `${plSub(7)}.1`,
      allow: plSub(8),
    },
    ...(redaction
      ? { redaction: { redactLevel: `${redaction}.1`, sameDomain: `${redaction}.2`, otherwise: `${redaction}.3` } }
      : {}),
    allow: String(m + (redaction ? 7 : 6)),
  };
}
