/**
 * Third-party identifiers (spec: administrative_contact.yaml; the requestToken endpoints of
 * registration.yaml and password_management.yaml). Doorstep stores none and sends no e-mail or
 * SMS, so these answer as Synapse does with no email config, phone delegate or identity server.
 * Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { AuthData, RequestTokenKind, ThreepidRequest } from '../../services/accounts';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

const REQUEST_TOKEN: ReadonlyArray<[string, RequestTokenKind]> = [
  ['/account/3pid/email/requestToken', 'account/email'],
  ['/account/3pid/msisdn/requestToken', 'account/msisdn'],
  ['/register/email/requestToken', 'register/email'],
  ['/register/msisdn/requestToken', 'register/msisdn'],
  ['/account/password/email/requestToken', 'password/email'],
  ['/account/password/msisdn/requestToken', 'password/msisdn'],
];

export function threepidRoutes(s: Pick<Services, 'accounts'>): Route[] {
  return [
    { method: 'GET', paths: clientPaths('/account/3pid'), auth: 'token', handle: (req) => s.accounts.listThreepids(requesterOf(req)) },
    {
      method: 'POST',
      paths: clientPaths('/account/3pid'),
      auth: 'token',
      handle: (req) => s.accounts.addThreepid(requesterOf(req), assertValid('threepid-legacy-add', bodyOf(req)), false),
    },
    {
      method: 'POST',
      paths: clientPaths('/account/3pid/add'),
      auth: 'token',
      handle: (req) =>
        s.accounts.addThreepid(requesterOf(req), assertValid<{ auth?: AuthData; client_secret: string; sid: string }>('threepid-add', bodyOf(req)), true),
    },
    {
      method: 'POST',
      paths: clientPaths('/account/3pid/bind'),
      auth: 'token',
      handle: (req) => {
        assertValid('threepid-bind', bodyOf(req));
        return s.accounts.bindThreepid(requesterOf(req));
      },
    },
    ...(['/account/3pid/delete', '/account/3pid/unbind'] as const).map(
      (path): Route => ({
        method: 'POST',
        paths: clientPaths(path),
        auth: 'token',
        handle: (req) => s.accounts.unbindThreepid(requesterOf(req), assertValid<ThreepidRequest>('threepid-medium-address', bodyOf(req))),
      }),
    ),
    ...REQUEST_TOKEN.map(
      ([path, kind]): Route => ({ method: 'POST', paths: clientPaths(path), auth: 'none', handle: () => s.accounts.requestToken(kind) }),
    ),
  ];
}
