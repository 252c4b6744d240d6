/**
 * Differential tests of the change codec against Automerge 3 itself: random documents
 * and edit sequences (several actors, merges, concurrent edits) through Automerge's proxy
 * API; every change Automerge produces must decode to what `A.decodeChange` returns and
 * re-encode to the same bytes.
 */
import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeChange, encodeChange, encodeHashedChange, toAutomergeShape } from '../../src/crdt/change-codec/index.js';
import { expectRunsAgree } from '../support/text-runs.js';

const SEED = Number(process.env.CODEC_SEED ?? 20_260_417);
// Container paths must not use '' (Automerge's path API reads it as the root), so the
// empty key and other odd keys only ever hold scalars (kind 0).
const KEYS = ['a', 'b', 'name', 'email', 'notes'];
const ACTORS = ['0a0a0a', 'f1f1f1f1', 'aaaa5555'];

type Path = (string | number)[];

/** Characters of 1 to 4 UTF-8 bytes, a BOM (must survive decoding) and a newline. */
const unit = fc.constantFrom('a', 'b', 'Z', ' ', 'é', 'ß', '中', '😀', '\u{feff}', '\n');
const text = fc.string({ maxLength: 10, unit });

/** Scalar values as the proxy API takes them, covering every datatype. */
const scalar = fc.oneof(
  text.map((s) => new A.ImmutableString(s)),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms)),
  fc.uint8Array({ maxLength: 20 }),
  fc.integer({ min: -1000, max: 1000 }).map((n) => new A.Counter(n)),
  fc.maxSafeNat().map((n) => new A.Uint(n)),
  fc.maxSafeInteger().map((n) => new A.Int(n)),
  fc.double().map((n) => new A.Float64(n)),
);

const step = fc.record({
  actor: fc.nat(ACTORS.length - 1),
  kind: fc.nat(13),
  n1: fc.nat(1000),
  n2: fc.nat(1000),
  n3: fc.integer({ min: -50, max: 50 }),
  value: scalar,
  text,
});

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** The containers of a document (inside a change callback), by kind. */
function collect(root: unknown): { maps: Path[]; lists: Path[]; texts: Path[]; counters: Path[] } {
  const found = { maps: [] as Path[], lists: [] as Path[], texts: [] as Path[], counters: [] as Path[] };
  const visit = (value: unknown, path: Path, depth: number): void => {
    if (typeof value === 'string') found.texts.push(path);
    else if (value instanceof A.Counter) found.counters.push(path);
    else if (Array.isArray(value)) {
      found.lists.push(path);
      if (depth < 4) value.forEach((v, i) => visit(v, [...path, i], depth + 1));
    } else if (typeof value === 'object' && value !== null && !(value instanceof Date) && !(value instanceof Uint8Array) && !A.isImmutableString(value)) {
      found.maps.push(path);
      if (depth < 4) for (const [k, v] of Object.entries(value)) visit(v, [...path, k], depth + 1);
    }
  };
  visit(root, [], 0);
  return found;
}

function at(root: unknown, path: Path): any {
  return path.reduce<any>((o, k) => o[k], root);
}

/** Applies one random step to the actors' documents. */
function apply(docs: A.Doc<any>[], s: Step): void {
  const i = s.actor;
  if (s.kind === 11) {
    docs[i] = A.merge(docs[i]!, docs[(i + 1 + (s.n1 % (docs.length - 1))) % docs.length]!);
    return;
  }
  if (s.kind === 13) {
    docs[i] = A.emptyChange(docs[i]!, { message: s.text, time: s.n3 });
    return;
  }
  const options = s.n1 % 7 === 0 ? { message: s.text, time: s.n2 * 1000 } : {};
  docs[i] = A.change(docs[i]!, options, (doc: any) => {
    const c = collect(doc);
    const pick = <T>(xs: T[], n: number): T | undefined => (xs.length === 0 ? undefined : xs[n % xs.length]);
    const map = at(doc, pick(c.maps, s.n1)!);
    const key = KEYS[s.n2 % KEYS.length]!;
    const text = pick(c.texts, s.n1);
    const list = pick(c.lists, s.n2);
    switch (s.kind) {
      case 0:
        map[s.n3 % 5 === 0 ? s.text : key] = s.value;
        break;
      case 1:
        // Long texts make changes over 256 bytes, which getCommits deflates.
        map[key] = s.text.repeat(1 + (s.n1 % 40));
        break;
      case 2:
        if (text) {
          const len = (at(doc, text) as string).length;
          const pos = s.n2 % (len + 1);
          A.splice(doc, text, pos, s.n1 % (len - pos + 1), s.text);
        }
        break;
      case 3:
        if (text) A.updateText(doc, text, s.text + (at(doc, text) as string).slice(s.n2 % 4));
        break;
      case 4: {
        const counter = pick(c.counters, s.n2);
        if (counter) at(doc, counter).increment(s.n3);
        else map[key] = new A.Counter(s.n3);
        break;
      }
      case 5: {
        const keys = Object.keys(map);
        if (keys.length > 0) delete map[keys[s.n2 % keys.length]!];
        break;
      }
      case 6:
        map[key] = { x: s.value, [s.text]: s.n3 };
        break;
      case 7:
        map[key] = [s.value, s.n3, s.text];
        break;
      case 8:
        if (list) at(doc, list).insertAt(s.n1 % (at(doc, list).length + 1), s.value, s.n3);
        break;
      case 9:
        if (list && at(doc, list).length > 0) at(doc, list).deleteAt(s.n1 % at(doc, list).length);
        break;
      case 10:
        if (list && at(doc, list).length > 0) at(doc, list)[s.n1 % at(doc, list).length] = s.value;
        break;
      case 12:
        if (text && (at(doc, text) as string).length > 1) {
          const len = (at(doc, text) as string).length;
          const start = s.n2 % (len - 1);
          const range = { start, end: start + 1 + (s.n1 % (len - start - 1)), expand: (['before', 'after', 'both', 'none'] as const)[s.n1 % 4] };
          if (s.n3 % 3 === 0) A.unmark(doc, text, range, key || 'em');
          else A.mark(doc, text, range, key || 'em', s.n3 % 2 === 0 ? true : s.n3);
        }
        break;
    }
  });
}

/** Checks one Automerge-produced change chunk against A.decodeChange; returns the decoded change. */
function check(bytes: Uint8Array) {
  const ours = decodeChange(bytes);
  let theirs: unknown;
  try {
    theirs = A.decodeChange(bytes);
  } catch (err) {
    // Automerge 3 stores a JS number ≥ 2^53 as a 64-bit int, then cannot decode it again
    // (RangeError); the codec returns such values as bigints.
    expect(String(err)).toMatch(/can't be represented as a JavaScript number/);
    expect(ours.ops.some((op) => typeof op.value === 'bigint')).toBe(true);
    theirs = undefined;
  }
  // isDeepStrictEqual first: vitest's toEqual is slow on big op lists; it only runs to
  // report a difference.
  if (theirs !== undefined && !isDeepStrictEqual(toAutomergeShape(ours), theirs)) expect(toAutomergeShape(ours)).toEqual(theirs);
  if (ours.chunkType === 1 && Buffer.compare(encodeChange(ours), bytes) !== 0) expect(encodeChange(ours)).toEqual(bytes);
  // The hash sealing computes (for the checksum) is the change's hash.
  expect(encodeHashedChange(ours).hash).toBe(ours.hash);
  expectRunsAgree(ours, decodeChange(bytes, { textRuns: true }));
  return ours;
}

describe('change codec vs Automerge 3 (differential)', () => {
  it('decodes every change of random multi-actor edit sequences like A.decodeChange and re-encodes it byte for byte', () => {
    let changes = 0;
    let compressed = 0;
    let withOtherActors = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 30, maxLength: 60 }), (steps) => {
        const base = A.from<any>({ title: new A.ImmutableString('t'), notes: 'hi' }, { actor: ACTORS[0]! });
        const docs = ACTORS.map((actor) => A.clone(base, { actor }));
        for (const s of steps) apply(docs, s);
        const all = docs.reduce((a, b) => A.merge(a, b));
        const hashes = new Map<string, string>();
        for (const bytes of A.getAllChanges(all)) {
          const c = check(bytes);
          hashes.set(c.hash, Buffer.from(bytes).toString('hex'));
          changes++;
          if (c.otherActors.length > 0) withOtherActors++;
        }
        // getCommits deflates changes over 256 bytes (chunk type 2); same change, same hash.
        for (const commit of A.getCommits(all)) {
          const c = check(commit.bytes);
          expect(hashes.has(c.hash)).toBe(true);
          if (c.chunkType === 2) {
            compressed++;
            expect(Buffer.from(encodeChange(c)).toString('hex')).toBe(hashes.get(c.hash));
          }
        }
        // merge consumed docs[0] into `all`; free the rest.
        for (const d of [...docs.slice(1), all]) A.free(d);
      }),
      { seed: SEED, numRuns: 100 },
    );
    expect(changes).toBeGreaterThan(3000);
    expect(compressed).toBeGreaterThan(20);
    expect(withOtherActors).toBeGreaterThan(100);
  });

  it('matches A.getLastLocalChange after each edit', () => {
    let doc = A.from<any>({ n: 1 }, { actor: 'abcdef' });
    for (let i = 0; i < 50; i++) {
      doc = A.change(doc, (d: any) => {
        d.n = i % 2 === 0 ? i : new A.ImmutableString(`v${i}`);
        if (i % 5 === 0) d[`t${i}`] = 'x'.repeat(i);
      });
      check(A.getLastLocalChange(doc)!);
    }
  });
});
