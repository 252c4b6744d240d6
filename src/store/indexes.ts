/**
 * Secondary indexes over record views. A write to a record already indexed changes its
 * keys in the same atomic batch as the record itself; a created record's keys follow its
 * batch (index-backlog.ts), and every index scan writes them first, so a listing never
 * disagrees with the records it lists.
 */
import type { RecordView } from '../crdt/record-schema.js';
import { FIXED } from '../limits.js';

/** Index names and the view value each one orders by. */
export const INDEXES = {
  territory: (v: IndexSource) => v.territory,
  owner: (v: IndexSource) => v.owner,
  stage: (v: IndexSource) => v.stage,
  updated: (v: IndexSource) => v.updatedAt.toString(16).padStart(12, '0'),
  // Only records with open conflicts are indexed: the conflict inbox scans them alone.
  conflict: (v: IndexSource) => (v.conflicts.length > 0 ? 'open' : undefined),
} as const;

/** One equality index name. */
export type IndexName = keyof typeof INDEXES;
/** INDEXES as pairs, made once: every write walks them. */
const INDEX_PICKS = Object.entries(INDEXES) as [IndexName, (v: IndexSource) => string | undefined][];

/** Most search tokens indexed per record (bounds index writes per change). */
export const MAX_TEXT_TOKENS = FIXED.maxTextTokens;
/** Shortest token indexed for text search. */
export const MIN_TOKEN_LENGTH = 2;

/** The fields a record's search tokens come from (textTokens). */
export type TextSource = Pick<RecordView, 'id' | 'name' | 'company' | 'email'>;
/** The fields a record's index keys come from (INDEXES and textTokens). */
export type IndexSource = TextSource & Pick<RecordView, 'territory' | 'owner' | 'stage' | 'updatedAt' | 'conflicts'>;

/**
 * Search tokens of a record: lower-cased words of name and company, plus the e-mail
 * address, its local part and its domain, so a prefix of any of them finds the record.
 */
export function textTokens(view: TextSource): string[] {
  const tokens = new Set<string>();
  addWords(tokens, view.name);
  addWords(tokens, view.company);
  if (view.email) {
    // The address, its local part and its domain; not the words of the domain, whose
    // 'com' would make one enormous posting list.
    const email = view.email.toLowerCase();
    const [local, domain] = email.split('@');
    tokens.add(email);
    if (local && local.length >= MIN_TOKEN_LENGTH) tokens.add(local);
    if (domain) tokens.add(domain);
  }
  const list = [...tokens];
  if (list.length > MAX_TEXT_TOKENS) list.length = MAX_TEXT_TOKENS; // in place: no second array
  return list;
}

/** Only ASCII characters: NFKC leaves them as they are. */
const ASCII = /^[\x00-\x7f]*$/;
/** Separators between words: anything but a letter or a digit (\p{L}, \p{N}). */
const NON_WORD = /[^\p{L}\p{N}]+/u;
/** The same for ASCII text, whose letters and digits are these (after lower-casing). */
const ASCII_NON_WORD = /[^a-z0-9]+/;

/**
 * Adds the words of `value` (lower-cased, NFKC) of at least MIN_TOKEN_LENGTH. ASCII text,
 * most names, companies and addresses, skips ICU's normalisation and the Unicode split,
 * which give it the same words (test/store/index-delta.test.ts holds the two together).
 */
function addWords(tokens: Set<string>, value: string | undefined): void {
  if (!value) return;
  const lower = value.toLowerCase();
  const words = ASCII.test(lower) ? lower.split(ASCII_NON_WORD) : lower.normalize('NFKC').split(NON_WORD);
  for (const word of words) if (word.length >= MIN_TOKEN_LENGTH) tokens.add(word);
}

/** Normalises a search query the way tokens are normalised. */
export function normaliseQuery(query: string): string {
  return query.toLowerCase().normalize('NFKC').trim();
}

/** The characters encodeURIComponent leaves as they are. */
const URI_UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]*$/;

/** Encodes an index value so it can never contain the '/' separator. */
export function encodeIndexValue(value: string): string {
  // Most values hold no character encodeURIComponent escapes: a test is cheaper than its call.
  return URI_UNRESERVED.test(value) ? value : encodeURIComponent(value);
}

/** What one record's index keys become: the keys to delete and the keys to put. */
export interface IndexDelta {
  removed: string[];
  added: string[];
}

/**
 * The index keys to delete and to put when a record's view goes from `before` to
 * `after`: exactly what `indexKeysOf(before)` has that `indexKeysOf(after)` lacks, and the
 * other way round. Most writes change a field or two (and `updated`, always): the search
 * tokens (NFKC, a Unicode split) are derived again only when name, company or e-mail
 * changed, and each equality index is compared by its one value.
 */
export function indexDelta(before: RecordView | undefined, after: RecordView): IndexDelta {
  if (before === undefined) return { removed: [], added: indexKeyList(after) };
  if (before.id !== after.id || textSourceChanged(before, after)) return setDifference(indexKeysOf(before), indexKeysOf(after));
  const removed: string[] = [];
  const added: string[] = [];
  for (const [name, pick] of INDEX_PICKS) {
    const was = pick(before);
    const is = pick(after);
    if (was === is) continue;
    // encodeIndexValue is one-to-one: different values, different keys.
    if (was !== undefined) removed.push(indexKey(name, was, before.id));
    if (is !== undefined) added.push(indexKey(name, is, after.id));
  }
  return { removed, added };
}

/** Whether a field the search tokens come from (textTokens) differs. */
function textSourceChanged(before: TextSource, after: TextSource): boolean {
  return before.name !== after.name || before.company !== after.company || before.email !== after.email;
}

function setDifference(old: Set<string>, now: Set<string>): IndexDelta {
  const removed: string[] = [];
  const added: string[] = [];
  for (const key of old) if (!now.has(key)) removed.push(key);
  for (const key of now) if (!old.has(key)) added.push(key);
  return { removed, added };
}

/** All index keys a view contributes. Tombstones stay indexed so filtered listings can include them. */
export function indexKeysOf(view: IndexSource | undefined): Set<string> {
  return new Set(view ? indexKeyList(view) : []);
}

/**
 * indexKeysOf as a list, in the same order: the keys are distinct by construction (one
 * per equality index, one per distinct search token under the 'text' name), so a record
 * written for the first time needs no Set of them and no difference against an empty one.
 */
export function indexKeyList(view: IndexSource): string[] {
  const keys: string[] = [];
  for (const [name, pick] of INDEX_PICKS) {
    const value = pick(view);
    if (value !== undefined) keys.push(indexKey(name, value, view.id));
  }
  for (const token of textTokens(view)) keys.push(indexKey('text', token, view.id));
  return keys;
}

/** The key of one index entry: `name/encoded value/record id`. */
function indexKey(name: IndexName | 'text', value: string, id: string): string {
  return `${name}/${encodeIndexValue(value)}/${id}`;
}
