/** `crmsync history <id>`: why a record looks the way it does (`conflicts show` is in conflicts.ts). */
import type { HistoryEntry } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { json, table, time } from '../format.js';
import { say } from '../hints.js';
import type { Io } from '../io.js';

/** Options of `history`. */
export type HistoryOptions = ClientFlags & { limit?: string | number };

/** Prints the changes that made the record, oldest first. */
export async function history(id: string, options: HistoryOptions, io: Io): Promise<HistoryEntry[]> {
  const { client } = await connect(options, io);
  // --limit goes as typed: the API validates it, and the error names --limit (flags.ts).
  const entries = await client.history(id, options.limit);
  if (options.json) io.out(json({ history: entries }));
  else if (entries.length === 0) say(io, options, `${id} has no history.`);
  else io.out(table(['time', 'node', 'seq', 'fields', 'hash'], entries.map((e) => [time(e.at), e.node, e.seq, e.fields.join(', '), e.hash.slice(0, 12)])));
  return entries;
}
