/**
 * Registration, login, refresh, logout, whoami, devices, password and deactivation (spec: registration.yaml,
 * login.yaml, refresh.yaml, logout.yaml, whoami.yaml, device_management.yaml, password_management.yaml,
 * account_deactivation.yaml) and Synapse's shared-secret registration (/_synapse/admin/v1/register).
 * Password change and deactivation take an access token when one is sent (`auth: 'optional'`):
 * without one, user-interactive auth says who the user is. The 401s of user-interactive auth
 * (flows, session) are thrown by the service as Matrix errors. Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type {
  AuthData, ChangePasswordRequest, LoginRequest, RegisterRequest, SharedSecretRegisterRequest,
} from '../../services/accounts';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryObject, querySingle } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

/**
 * The client's address, for rc_login.address and rc_registration, once mountRoutes passes it
 * (RouteRequest.clientIp); until then undefined, and those two limits are not applied.
 */
const clientIpOf = (req: RouteRequest): string | undefined => req.clientIp;

/** DELETE bodies are optional (Synapse accepts none on DELETE /devices/{deviceId}). */
const optionalBody = (req: RouteRequest): unknown => (req.body === undefined ? {} : bodyOf(req));

export function accountRoutes(s: Pick<Services, 'accounts'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/register'),
      auth: 'none',
      handle: (req) => s.accounts.register(assertValid<RegisterRequest>('register', bodyOf(req)), querySingle(req, 'kind'), clientIpOf(req)),
    },
    {
      method: 'GET',
      paths: clientPaths('/register/available'),
      auth: 'none',
      handle: (req) => s.accounts.checkUsernameAvailable(assertValid<{ username: string }>('register-available', queryObject(req, ['username'])).username),
    },
    { method: 'GET', paths: clientPaths('/login'), auth: 'none', handle: () => s.accounts.loginFlows() },
    {
      method: 'POST',
      paths: clientPaths('/login'),
      auth: 'none',
      handle: (req) => s.accounts.login(assertValid<LoginRequest>('login', bodyOf(req)), clientIpOf(req)),
    },
    {
      method: 'POST',
      paths: clientPaths('/refresh'),
      auth: 'none',
      handle: (req) => s.accounts.refresh(assertValid<{ refresh_token: string }>('refresh', bodyOf(req)).refresh_token),
    },
    {
      method: 'POST',
      paths: clientPaths('/logout'),
      auth: 'token',
      handle: (req) => {
        s.accounts.logout(requesterOf(req));
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/logout/all'),
      auth: 'token',
      handle: (req) => {
        s.accounts.logoutAll(requesterOf(req));
        return {};
      },
    },
    { method: 'GET', paths: clientPaths('/account/whoami'), auth: 'token', handle: (req) => s.accounts.whoami(requesterOf(req)) },
    {
      method: 'POST',
      paths: clientPaths('/account/password'),
      auth: 'optional',
      handle: async (req) => {
        const body = assertValid<ChangePasswordRequest>('change-password', bodyOf(req));
        await s.accounts.changePassword(req.requester, body);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/account/deactivate'),
      auth: 'optional',
      handle: (req) => s.accounts.deactivate(req.requester, assertValid<{ auth?: AuthData }>('deactivate', bodyOf(req)).auth),
    },
    { method: 'GET', paths: clientPaths('/devices'), auth: 'token', handle: (req) => s.accounts.listDevices(requesterOf(req)) },
    {
      method: 'GET',
      paths: clientPaths('/devices/:deviceId'),
      auth: 'token',
      handle: (req) => s.accounts.getDevice(requesterOf(req), req.params.deviceId!),
    },
    {
      method: 'PUT',
      paths: clientPaths('/devices/:deviceId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ display_name?: string }>('update-device', bodyOf(req));
        s.accounts.updateDevice(requesterOf(req), req.params.deviceId!, body);
        return {};
      },
    },
    {
      method: 'DELETE',
      paths: clientPaths('/devices/:deviceId'),
      auth: 'token',
      handle: async (req) => {
        const body = assertValid<{ auth?: AuthData }>('delete-device', optionalBody(req));
        await s.accounts.deleteDevices(requesterOf(req), [req.params.deviceId!], body.auth);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/delete_devices'),
      auth: 'token',
      handle: async (req) => {
        const body = assertValid<{ devices: string[]; auth?: AuthData }>('delete-devices', bodyOf(req));
        await s.accounts.deleteDevices(requesterOf(req), body.devices, body.auth);
        return {};
      },
    },
    { method: 'GET', paths: ['/_synapse/admin/v1/register'], auth: 'none', handle: () => s.accounts.sharedSecretNonce() },
    {
      method: 'POST',
      paths: ['/_synapse/admin/v1/register'],
      auth: 'none',
      handle: (req) => s.accounts.sharedSecretRegister(assertValid<SharedSecretRegisterRequest>('shared-secret-register', bodyOf(req))),
    },
  ];
}
