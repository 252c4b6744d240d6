/** `crmsync conflicts <id>` and `crmsync history <id>`: why a record looks the way it does. */
import type { FieldConflict, HistoryEntry } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { CrmsyncError } from '../../errors.js';
import { json, table, time } from '../format.js';
import type { Io } from '../io.js';

/** Prints every conflicted field with each concurrent value and the node that wrote it. */
export async function conflicts(id: string, options: ClientFlags, io: Io): Promise<FieldConflict[]> {
  const { client } = await connect(options, io);
  const result = await client.conflicts(id);
  if (options.json) {
    io.out(json({ conflicts: result }));
    return result;
  }
  if (result.length === 0) {
    io.out(`${id} has no conflicting values.`);
    return result;
  }
  const rows = result.flatMap((c) => c.values.map((v) => [c.field, JSON.stringify(v.value), v.node, v.winner ? 'shown' : '']));
  io.out(table(['field', 'value', 'written by', 'winner'], rows));
  io.out(`Resolve a field by writing the value you want: crmsync records patch ${id} --data '{"FIELD": VALUE}'`);
  return result;
}

/** Options of `history`. */
export type HistoryOptions = ClientFlags & { limit?: string | number };

/** Prints the changes that made the record, oldest first. */
export async function history(id: string, options: HistoryOptions, io: Io): Promise<HistoryEntry[]> {
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new CrmsyncError('ERR_VALIDATION', `--limit ${String(options.limit)}: must be a positive whole number`, { details: [{ field: 'limit', message: 'must be a positive integer' }] });
  }
  const { client } = await connect(options, io);
  const entries = await client.history(id, limit);
  if (options.json) io.out(json({ history: entries }));
  else io.out(entries.length === 0 ? `${id} has no history.` : table(['time', 'node', 'seq', 'fields', 'hash'], entries.map((e) => [time(e.at), e.node, e.seq, e.fields.join(', '), e.hash.slice(0, 12)])));
  return entries;
}
