/**
 * Registration, login, logout, whoami, devices, password and deactivation (spec: registration.yaml,
 * login.yaml, logout.yaml, whoami.yaml, device_management.yaml, password_management.yaml,
 * account_deactivation.yaml) and Synapse's shared-secret registration (/_synapse/admin/v1/register).
 * Thin: validate → one service call → body.
 */
import type { Request, Response, Router } from 'express';
import type { Services } from '../../services';
import type {
  AuthData, ChangePasswordRequest, LoginRequest, RegisterRequest, Requester, SharedSecretRegisterRequest,
} from '../../services/accounts';
import { assertValid } from '../../validation';
import { accessTokenOf, requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

/** A string query parameter, or undefined (repeated or absent). */
const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
};
/** DELETE bodies are optional (Synapse accepts none on DELETE /devices/{deviceId}). */
const optionalBody = (req: Request): unknown => (req.body === undefined ? {} : bodyOf(req));

export function accountRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);
  /** Endpoints whose access token is optional (spec `security: [{}, accessTokenBearer]`). */
  const maybeRequester = (req: Request): Requester | undefined => {
    const token = accessTokenOf(req);
    return token ? s.accounts.authenticate(token) : undefined;
  };

  r.post(clientPaths('/register'), async (req, res) => {
    const body = assertValid<RegisterRequest>('register', bodyOf(req));
    res.json(await s.accounts.register(body, query(req, 'kind')));
  });

  r.get(clientPaths('/register/available'), (req, res) => {
    const q = assertValid<{ username: string }>('register-available', { ...req.query });
    res.json(s.accounts.checkUsernameAvailable(q.username));
  });

  r.get(clientPaths('/login'), (_req, res) => {
    res.json(s.accounts.loginFlows());
  });

  r.post(clientPaths('/login'), async (req, res) => {
    const body = assertValid<LoginRequest>('login', bodyOf(req));
    res.json(await s.accounts.login(body));
  });

  r.post(clientPaths('/logout'), auth, (_req, res) => {
    s.accounts.logout(requester(res));
    res.json({});
  });

  r.post(clientPaths('/logout/all'), auth, (_req, res) => {
    s.accounts.logoutAll(requester(res));
    res.json({});
  });

  r.get(clientPaths('/account/whoami'), auth, (_req, res) => {
    res.json(s.accounts.whoami(requester(res)));
  });

  r.post(clientPaths('/account/password'), async (req, res) => {
    const body = assertValid<ChangePasswordRequest>('change-password', bodyOf(req));
    await s.accounts.changePassword(maybeRequester(req), body);
    res.json({});
  });

  r.post(clientPaths('/account/deactivate'), async (req, res) => {
    const body = assertValid<{ auth?: AuthData }>('deactivate', bodyOf(req));
    res.json(await s.accounts.deactivate(maybeRequester(req), body.auth));
  });

  r.get(clientPaths('/devices'), auth, (_req, res) => {
    res.json(s.accounts.listDevices(requester(res)));
  });

  r.get(clientPaths('/devices/:deviceId'), auth, (req, res) => {
    res.json(s.accounts.getDevice(requester(res), String(req.params.deviceId)));
  });

  r.put(clientPaths('/devices/:deviceId'), auth, (req, res) => {
    const body = assertValid<{ display_name?: string }>('update-device', bodyOf(req));
    s.accounts.updateDevice(requester(res), String(req.params.deviceId), body);
    res.json({});
  });

  r.delete(clientPaths('/devices/:deviceId'), auth, async (req: Request, res: Response) => {
    const body = assertValid<{ auth?: AuthData }>('delete-device', optionalBody(req));
    await s.accounts.deleteDevices(requester(res), [String(req.params.deviceId)], body.auth);
    res.json({});
  });

  r.post(clientPaths('/delete_devices'), auth, async (req, res) => {
    const body = assertValid<{ devices: string[]; auth?: AuthData }>('delete-devices', bodyOf(req));
    await s.accounts.deleteDevices(requester(res), body.devices, body.auth);
    res.json({});
  });

  r.get('/_synapse/admin/v1/register', (_req, res) => {
    res.json(s.accounts.sharedSecretNonce());
  });

  r.post('/_synapse/admin/v1/register', async (req, res) => {
    const body = assertValid<SharedSecretRegisterRequest>('shared-secret-register', bodyOf(req));
    res.json(await s.accounts.sharedSecretRegister(body));
  });
}
