/**
 * Admission of remote PDUs: the async half of the door (design §1). A PDU from another server is
 * checked as the spec's "Checks performed on receipt of a PDU" says before the synchronous
 * `events.ingest` sees it. STUB: being written by the lead.
 */
export interface Admission {
  /**
   * Checks a PDU received from `origin` in a transaction (format, signatures, content hash, auth
   * events, prev events) and ingests it. Resolves with its event ID; rejects with an Error whose
   * message is the per-PDU error text of the /send response.
   */
  receivePdu(pdu: unknown, origin: string): Promise<string>;
}
