/**
 * PUT /_matrix/federation/v1/send/{txnId} (spec: server-server-api "Transactions";
 * transactions.yaml). X-Matrix required; thin: validate → one service call → body. A request
 * from a server is also a sign that it is up: its outbound queue is retried at once.
 */
import type { Router } from 'express';
import type { Services } from '../../services';
import { createTransactionsService, type FederationTransaction } from '../../services/federation/transactions';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { originOf, requireXMatrix } from './x-matrix-auth';

export function sendRoutes(r: Router, s: Services): void {
  // One per homeserver (buildRouters runs once): it keeps the transactions in progress.
  const transactions = createTransactionsService({
    store: s.store,
    admission: { receivePdu: (pdu, origin) => s.admission.receivePdu(pdu, origin) },
    typing: s.typing, receipts: s.receipts, toDevice: s.toDevice, logger: s.logger, now: s.now,
  });

  r.put('/_matrix/federation/v1/send/:txnId', requireXMatrix(s), async (req, res) => {
    const origin = originOf(res);
    const body = assertValid<FederationTransaction>('federation-transaction', bodyOf(req));
    s.federationSender.wakeDestination(origin);
    res.json(await transactions.receiveTransaction(origin, String(req.params.txnId), body));
  });
}
