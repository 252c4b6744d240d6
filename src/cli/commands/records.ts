/** `crmsync records get|put|patch|delete|restore|list`: customer records over the HTTP API. */
import { readFile } from 'node:fs/promises';
import type { RecordView } from '../../index.js';
import type { CustomerPage, ListQuery } from '../client.js';
import { connect, type ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { clip, json, keyValues, table, time } from '../format.js';
import { say, suggest } from '../hints.js';
import type { Io } from '../io.js';

/** Where put/patch read their JSON: `--data '{…}'`, `--file f.json`, or `-` (stdin) for either. */
export interface InputOptions {
  data?: string;
  file?: string;
}

/** Options of `records put`. */
export type PutOptions = ClientFlags & InputOptions & { idempotencyKey?: string };

/** Options of `records list`. */
export type ListOptions = ClientFlags & {
  territory?: string;
  owner?: string;
  stage?: string;
  /** ms since epoch or an ISO date. */
  since?: string;
  q?: string;
  limit?: string | number;
  cursor?: string;
  /** Follow `next` cursors until the last page. */
  all?: boolean;
  includeDeleted?: boolean;
};

/** Reads and parses the JSON object given by --data, --file or stdin. */
export async function readJsonInput(options: InputOptions, io: Io): Promise<Record<string, unknown>> {
  if ((options.data === undefined) === (options.file === undefined)) {
    throw new CliError('give the record JSON once: --data \'{"name":"Ada"}\', --file record.json, or --file - to read stdin', EXIT.usage);
  }
  const source = options.data !== undefined ? (options.data === '-' ? 'stdin' : '--data') : options.file === '-' ? 'stdin' : options.file!;
  let text: string;
  if (source === 'stdin') text = await io.readStdin();
  else if (options.data !== undefined) text = options.data;
  else {
    try {
      text = await readFile(options.file!, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${options.file}: ${(err as Error).message}`, EXIT.usage);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the JSON from ${source} does not parse: ${(err as Error).message}`, EXIT.usage, 'quote it for the shell, e.g. --data \'{"name":"Ada Lovelace","stage":"lead"}\'', { code: 'ERR_VALIDATION' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError(`the JSON from ${source} must be an object such as {"name":"Ada"}`, EXIT.usage, undefined, { code: 'ERR_VALIDATION' });
  }
  return value as Record<string, unknown>;
}

/** A record as `key  value` lines (data: no hints in it). */
export function formatRecord(r: RecordView): string {
  const address = Object.values(r.address).filter(Boolean).join(', ');
  const custom = Object.entries(r.custom).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return keyValues([
    ['id', r.id], ['name', r.name], ['email', r.email], ['phone', r.phone], ['company', r.company], ['title', r.title],
    ['address', address], ['owner', r.owner], ['territory', r.territory], ['stage', r.stage], ['tags', r.tags.join(', ')],
    ['interactions', r.interactions], ['custom', custom], ['notes', clip(r.notes.replace(/\s+/g, ' '), 60)],
    ['created', time(r.createdAt)], ['updated', time(r.updatedAt)],
    ['deleted', r.deleted ? `yes (${time(r.deletedAt)})` : 'no'],
    ['conflicts', r.conflicts.join(', ')],
  ]);
}

/** The record on stdout; what happened and what to do next on stderr. */
function printRecord(record: RecordView, options: ClientFlags, io: Io, heading?: string): RecordView {
  if (options.json) {
    io.out(json({ customer: record }));
    return record;
  }
  if (heading) io.err(heading);
  io.out(formatRecord(record));
  if (record.deleted) io.err(`hint: it is deleted; restore it with: ${suggest(`records restore ${record.id}`, options)}`);
  if (record.conflicts.length > 0) io.err(`hint: ${record.conflicts.join(', ')} hold concurrent values; see them with: ${suggest(`conflicts show ${record.id}`, options)}`);
  return record;
}

/** Prints one record (deleted ones too). */
export async function recordsGet(id: string, options: ClientFlags, io: Io): Promise<RecordView> {
  const { client } = await connect(options, io);
  return printRecord(await client.get(id), options, io);
}

/** With an id: creates or replaces it (PUT). Without: creates (POST; exit 5 if the JSON's id exists). */
export async function recordsPut(id: string | undefined, options: PutOptions, io: Io): Promise<RecordView> {
  const input = await readJsonInput(options, io);
  const { client } = await connect(options, io);
  if (id === undefined) {
    const record = await client.create(input as never, options.idempotencyKey);
    return printRecord(record, options, io, `Saved ${record.id}.`);
  }
  const { customer, created } = await client.put(id, input as never);
  return printRecord(customer, options, io, `${created ? 'Created' : 'Replaced'} ${customer.id}.`);
}

/** Updates the given fields (null clears one; addTags, removeTags, incrementInteractions). */
export async function recordsPatch(id: string, options: ClientFlags & InputOptions, io: Io): Promise<RecordView> {
  const patch = await readJsonInput(options, io);
  const { client } = await connect(options, io);
  return printRecord(await client.patch(id, patch as never), options, io, `Updated ${id}.`);
}

/** Writes a tombstone (restorable with `records restore`). */
export async function recordsDelete(id: string, options: ClientFlags, io: Io): Promise<RecordView> {
  const { client } = await connect(options, io);
  const record = await client.delete(id);
  if (options.json) io.out(json({ customer: record }));
  else io.err(`Deleted ${id}.\nhint: undo it with: ${suggest(`records restore ${id}`, options)}`);
  return record;
}

/** Clears the tombstone. */
export async function recordsRestore(id: string, options: ClientFlags, io: Io): Promise<RecordView> {
  const { client } = await connect(options, io);
  return printRecord(await client.restore(id), options, io, `Restored ${id}.`);
}

/** Lists records with filters; --all follows the cursors to the end. */
export async function recordsList(options: ListOptions, io: Io): Promise<CustomerPage> {
  const query: ListQuery = {
    territory: options.territory, owner: options.owner, stage: options.stage, updatedSince: options.since, q: options.q,
    limit: options.limit, cursor: options.cursor, includeDeleted: options.includeDeleted ? true : undefined,
  };
  const { client } = await connect(options, io);
  let page = await client.list(query);
  const customers = [...page.customers];
  while (options.all && page.next !== null) {
    page = await client.list({ ...query, cursor: page.next });
    customers.push(...page.customers);
  }
  const result: CustomerPage = { customers, next: page.next };
  if (options.json) {
    io.out(json(result));
    return result;
  }
  const rows = customers.map((r) => [r.id, clip(r.name, 30), clip(r.company, 24), r.stage, r.owner, r.territory, time(r.updatedAt), [r.deleted ? 'deleted' : '', r.conflicts.length ? 'conflict' : ''].filter(Boolean).join(',')]);
  if (customers.length === 0) say(io, options, 'No records match.');
  else io.out(table(['id', 'name', 'company', 'stage', 'owner', 'territory', 'updated', 'flags'], rows));
  if (result.next !== null) say(io, options, `hint: more records: add --cursor ${result.next} (or --all)`);
  return result;
}
