/** `crmsync records erase <id>` and `crmsync records erasures`: erasure (GDPR) over the HTTP API. */
import type { ErasureView } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { json, table, time } from '../format.js';
import type { Io } from '../io.js';

/** Erases a record on every node, for good; the node must be an administrator. */
export async function recordsErase(id: string, options: ClientFlags, io: Io): Promise<ErasureView> {
  const { client } = await connect(options, io);
  const erasure = await client.erase(id);
  if (options.json) io.out(json({ erasure }));
  else io.err(`Erased ${id} on this node; every member removes it as the erasure reaches it. It cannot be restored, and its id is never used again.`);
  return erasure;
}

/** Lists the cluster's erasures: who, when, the salted id hash (never the record). */
export async function recordsErasures(options: ClientFlags, io: Io): Promise<ErasureView[]> {
  const { client } = await connect(options, io);
  const erasures = await client.erasures();
  if (options.json) io.out(json({ erasures }));
  else if (erasures.length === 0) io.err('No record was erased in this cluster.');
  else io.out(table(['when', 'by', 'subject (salted id hash)'], erasures.map((e) => [time(e.at), e.node, e.subject])));
  return erasures;
}
