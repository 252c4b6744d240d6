/**
 * `crmsync conflicts list|show|resolve`: the conflict inbox of a running node. `list`
 * pages through the records holding concurrent values, `show` prints every value of a
 * record's conflicted fields with who wrote it, when, and the rule that picked the
 * winner, and `resolve` keeps one value with a change that supersedes the others.
 */
import type { FieldConflict, ResolveChoice, ResolveResult } from '../../index.js';
import type { ConflictInboxReply } from '../client.js';
import { connect, type ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { clip, json, table, time } from '../format.js';
import { say, shellWord, suggest } from '../hints.js';
import type { Io } from '../io.js';

/** Options of `conflicts list`. */
export type ConflictsListOptions = ClientFlags & { territory?: string; owner?: string; limit?: string | number; cursor?: string };

/** Options of `conflicts resolve`: exactly one of keep and keepNode. */
export type ConflictsResolveOptions = ClientFlags & { keep?: string; keepNode?: string };

/** The time and author of a value, when the engine reports them (later engines always do). */
type Reported = { time?: number; author?: string | null };

/** Prints one page of the records with open conflicts. */
export async function conflictsList(options: ConflictsListOptions, io: Io): Promise<ConflictInboxReply> {
  const { client } = await connect(options, io);
  // Values go as typed: the API validates them, and its errors name the flags (flags.ts).
  const page = await client.conflictInbox({ territory: options.territory, owner: options.owner, limit: options.limit, cursor: options.cursor });
  if (options.json) {
    io.out(json(page));
    return page;
  }
  if (page.records.length === 0) say(io, options, 'No records hold conflicting values.');
  else {
    const rows = page.records.map((r) => [r.id, clip(r.name, 30), r.territory, r.owner, r.fields.join(', '), time(r.updatedAt), r.deleted ? 'deleted' : '']);
    io.out(table(['id', 'name', 'territory', 'owner', 'fields', 'updated', 'flags'], rows));
    say(io, options, `hint: see the values of one with: ${suggest(`conflicts show ${shellWord(page.records[0]!.id)}`, options)}`);
  }
  if (page.next !== null) say(io, options, `hint: more records: add --cursor ${page.next}`);
  return page;
}

/** Prints every conflicted field with each concurrent value, its node, time and author, the winner and the rule. */
export async function conflictsShow(id: string, options: ClientFlags, io: Io): Promise<FieldConflict[]> {
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
  const rows = result.flatMap((c) => {
    const rule = (c as FieldConflict & { rule?: string }).rule;
    return c.values.map((v) => {
      const reported = v as Reported;
      return [c.field, JSON.stringify(v.value), v.node, time(reported.time), reported.author, v.winner ? 'shown' : '', rule];
    });
  });
  io.out(table(['field', 'value', 'node', 'time', 'author', 'winner', 'rule'], rows));
  const first = result[0]!;
  io.err(`hint: keep one value with: ${suggest(`conflicts resolve ${shellWord(id)} ${shellWord(first.field)} --keep ${shellWord(String(first.values[0]!.value))}`, options)} (or --keep-node NODE)`);
  return result;
}

/** Keeps one concurrent value of a field: by its text (--keep) or by the node that wrote it (--keep-node). */
export async function conflictsResolve(id: string, field: string, options: ConflictsResolveOptions, io: Io): Promise<ResolveResult> {
  if ((options.keep === undefined) === (options.keepNode === undefined)) {
    throw new CliError('give exactly one of --keep <value> and --keep-node <node>', EXIT.usage, 'add --help for usage and examples');
  }
  // The text goes as it is: the API matches it against the values' text, so `--keep 3` keeps the number 3.
  const choice: ResolveChoice = options.keepNode === undefined ? { keep: options.keep! } : { keepNode: options.keepNode };
  const { client } = await connect(options, io);
  const result = await client.resolveConflict(id, field, choice);
  if (options.json) io.out(json(result));
  else io.err(`Resolved ${field} of ${id}: kept ${JSON.stringify(result.kept.value)} (written by ${result.kept.node ?? 'an unknown node'}). Every node drops the other values once this change reaches it.`);
  return result;
}
