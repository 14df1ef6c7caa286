/**
 * PUT /_matrix/federation/v1/send/{txnId} (spec: server-server-api "Transactions";
 * transactions.yaml). X-Matrix required (which also wakes our queue for the origin: a request
 * from a server is a sign that it is up); thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { FederationTransaction } from '../../services/federation/transactions';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import type { Route } from '../route';

export function sendRoutes(s: Pick<Services, 'transactions'>): Route[] {
  return [
    {
      method: 'PUT',
      paths: ['/_matrix/federation/v1/send/:txnId'],
      auth: 'x-matrix',
      handle: (req) => {
        const body = assertValid<FederationTransaction>('federation-transaction', bodyOf(req));
        return s.transactions.receiveTransaction(req.origin!, req.params.txnId!, body);
      },
    },
  ];
}
