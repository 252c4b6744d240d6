/** `crmsync conflicts <id>` and `crmsync history <id>`: why a record looks the way it does. */
import type { FieldConflict, HistoryEntry } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { json, table, time } from '../format.js';
import { say, suggest } from '../hints.js';
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
    io.err(`${id} has no conflicting values.`);
    return result;
  }
  const rows = result.flatMap((c) => c.values.map((v) => [c.field, JSON.stringify(v.value), v.node, v.winner ? 'shown' : '']));
  io.out(table(['field', 'value', 'written by', 'winner'], rows));
  io.err(`hint: resolve a field by writing the value you want: ${suggest(`records patch ${id}`, options)} --data '{"FIELD": VALUE}'`);
  return result;
}

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
