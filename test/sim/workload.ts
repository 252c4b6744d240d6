/**
 * The record operations of a simulated run: creates from a small id pool (so two nodes
 * create the same record), field updates that collide, notes edits that keep part of
 * the old text, tags, counter increments, deletes, restores and delete-vs-edit races.
 * An operation whose precondition fails on its node is expected to fail with
 * ERR_NOT_FOUND (or ERR_EXISTS for a create of an existing id) and nothing else; the
 * generated input is always valid, so ERR_VALIDATION would be a bug too.
 */
import { STAGES, hasCode, type CrmNode, type ErrorCode, type RecordPatchLike } from '../../src/index.js';
import type { Prng } from './prng.js';

/** Record ids shared by all nodes: few enough that nodes write the same records. */
export const RECORD_IDS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'] as const;
const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Barbara Liskov', 'Ken Thompson'];
const COMPANIES = ['Acme', 'Initech', 'Globex', 'Umbrella'];
const CITIES = ['Berlin', 'Lyon', 'Oslo', 'Porto'];
const TAGS = ['vip', 'lead', 'eu', 'us', 'churn risk'];
const WORDS = ['call', 'back', 'on', 'monday', 'sent', 'quote', 'renewal', 'met', 'at', 'fair'];
const FIELDS = ['name', 'email', 'stage', 'company', 'city', 'score', 'phone', 'territory', 'owner'] as const;
const TERRITORIES = ['north', 'south', 'east'];
const OWNERS = ['anna', 'ben', 'chloe'];

/** The kinds of record operation, with their weights in the random mix. */
export const RECORD_OPS = {
  create: 6, put: 1, update: 8, notes: 5, tags: 4, count: 3, delete: 3, restore: 3, deleteVsEdit: 2,
} as const;
/** One kind of record operation. */
export type RecordOp = keyof typeof RECORD_OPS;

/** A run-time failure that is not one of the tolerated precondition errors. */
export class UnexpectedError extends Error {}

function patchFor(rng: Prng, field: (typeof FIELDS)[number]): RecordPatchLike {
  switch (field) {
    case 'name':
      return { name: rng.pick(NAMES) };
    case 'email':
      return { email: rng.chance(0.15) ? null : `${rng.pick(['ada', 'grace', 'alan'])}@example.com` };
    case 'stage':
      // Without reopen, a move back is refused (monotonic stage); concurrent moves merge forward.
      return { stage: rng.pick([...STAGES.slice(0, 4), 'won', 'lost'] as const), ...(rng.chance(0.3) ? { reopen: true } : {}) };
    case 'territory':
      return { territory: rng.pick(TERRITORIES) };
    case 'owner':
      return { owner: rng.pick(OWNERS) };
    case 'company':
      return { company: rng.pick(COMPANIES) };
    case 'city':
      return { address: { city: rng.pick(CITIES) } };
    case 'score':
      return { custom: { score: rng.int(1, 5) } };
    case 'phone':
      return { phone: `+49 30 ${rng.int(100, 999)}` };
  }
}

/** A patch touching one or two random fields (so same-field and different-field races both happen). */
export function randomPatch(rng: Prng): RecordPatchLike {
  const patch = patchFor(rng, rng.pick(FIELDS));
  return rng.chance(0.3) ? { ...patchFor(rng, rng.pick(FIELDS)), ...patch } : patch;
}

/** A new notes text that keeps part of the old one: replace a slice with a word, or append. */
export function editNotes(rng: Prng, old: string): string {
  const word = rng.pick(WORDS);
  // A whole new note: concurrent replacements must both stay readable.
  if (old.length > 0 && rng.chance(0.2)) return `${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.pick(WORDS)}`;
  if (old.length > 120) return old.slice(rng.int(20, 60));
  if (old.length === 0 || rng.chance(0.3)) return old.length === 0 ? word : `${old} ${word}`;
  const from = rng.int(0, old.length);
  const to = Math.min(old.length, from + rng.int(0, 6));
  return `${old.slice(0, from)}${word}${old.slice(to)}`;
}

/**
 * Runs `fn`, tolerating only `allowed` error codes. Returns 'ok' or the code; any
 * other failure becomes an UnexpectedError naming the operation.
 */
async function attempt(label: string, allowed: ErrorCode[], fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (allowed.some((c) => hasCode(err, c))) return code!;
    throw new UnexpectedError(`${label} failed unexpectedly: ${code ?? 'no code'} ${(err as Error).message}`, { cause: err });
  }
}

const MISSING: ErrorCode[] = ['ERR_NOT_FOUND'];

/** A stage moved back without `reopen` is refused (monotonic stage): the one validation error a valid patch may get. */
const allowedFor = (patch: RecordPatchLike): ErrorCode[] => (patch.stage !== undefined && !patch.reopen ? [...MISSING, 'ERR_VALIDATION'] : MISSING);

/** Runs one record operation on `nodes[0]` (and `nodes[1]` for a race); returns its trace text. */
export async function runRecordOp(rng: Prng, op: RecordOp, nodes: { name: string; node: CrmNode }[]): Promise<string> {
  const [{ name, node }] = nodes as [{ name: string; node: CrmNode }];
  // Mostly records this node holds (live ones, or deleted ones to restore), so most
  // writes apply; sometimes any id of the pool, so creates collide and writes to
  // records the node has not seen, or has seen deleted, fail.
  const held = (await node.records.list({ includeDeleted: true, limit: RECORD_IDS.length })).records
    .filter((r) => (op === 'restore' ? r.deleted : op === 'put' || !r.deleted)).map((r) => r.id);
  const id = held.length > 0 && op !== 'create' && rng.chance(0.75) ? rng.pick(held) : rng.pick(RECORD_IDS);
  const at = `${op} ${id} on ${name}`;
  switch (op) {
    case 'create': {
      const input = { id, name: rng.pick(NAMES), tags: rng.chance(0.5) ? [rng.pick(TAGS)] : [], notes: rng.chance(0.5) ? rng.pick(WORDS) : '' };
      return `${at}: ${await attempt(at, ['ERR_EXISTS'], () => node.records.create(input))}`;
    }
    case 'put':
      return `${at}: ${await attempt(at, [], () => node.records.put(id, { name: rng.pick(NAMES), tags: [rng.pick(TAGS)], interactions: rng.int(0, 3) }))}`;
    case 'update': {
      const patch = randomPatch(rng);
      return `${at} ${JSON.stringify(patch)}: ${await attempt(at, allowedFor(patch), () => node.records.update(id, patch))}`;
    }
    case 'notes': {
      const notes = editNotes(rng, (await node.records.get(id))?.notes ?? '');
      return `${at} ${JSON.stringify(notes)}: ${await attempt(at, MISSING, () => node.records.update(id, { notes }))}`;
    }
    case 'tags': {
      const tag = rng.pick(TAGS);
      const patch = rng.chance(0.55) ? { addTags: [tag] } : { removeTags: [tag] };
      return `${at} ${JSON.stringify(patch)}: ${await attempt(at, MISSING, () => node.records.update(id, patch))}`;
    }
    case 'count': {
      const by = rng.int(1, 5);
      return `${at} +${by}: ${await attempt(at, MISSING, () => node.records.update(id, { incrementInteractions: by }))}`;
    }
    case 'delete':
      return `${at}: ${await attempt(at, MISSING, () => node.records.delete(id))}`;
    case 'restore':
      return `${at}: ${await attempt(at, MISSING, () => node.records.restore(id))}`;
    case 'deleteVsEdit': {
      const other = nodes[1];
      if (!other) return `${at}: skipped (one node up)`;
      const patch = randomPatch(rng);
      // Both start before either commits: the two writes are concurrent by construction.
      const [deleted, edited] = await Promise.all([
        attempt(at, MISSING, () => node.records.delete(id)),
        attempt(`${at} edit`, allowedFor(patch), () => other.node.records.update(id, patch)),
      ]);
      return `delete ${id} on ${name}: ${deleted} || update on ${other.name} ${JSON.stringify(patch)}: ${edited}`;
    }
  }
}
