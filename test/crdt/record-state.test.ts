/**
 * The document-free paths against Automerge: for every write `encodeWrite` takes and
 * every received change `applySimple` takes, the change must load in Automerge and the
 * view and state must be exactly what Automerge plus `materialize`/`stateOfDoc` give.
 * Two replicas write and sync in random (seeded) interleavings, so concurrent changes,
 * conflicts and changes on stale heads all occur.
 */
import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeChange } from '../../src/crdt/change-codec/index.js';
import { fieldsOf } from '../../src/crdt/change-info.js';
import { applyRecordChanges, freeDoc, loadRecordDoc, materialize, writeRecord, type RecordDoc, type RecordWrite } from '../../src/crdt/record-doc.js';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';
import { applySimple, emptyView, fieldPath, genesisState, opIdOf, type RecordState } from '../../src/crdt/record-state.js';
import { stateOfDoc } from '../../src/crdt/state-of-doc.js';

const ID = parseRecordId('cust-1');

interface Replica {
  actor: string;
  doc: RecordDoc;
  state: RecordState;
  view: RecordView;
  changes: Map<string, Uint8Array>;
  fast: number;
  /** Received changes applied without the document although made concurrently. */
  concurrent: number;
}

function replica(node: string, byte: number): Replica {
  const actor = makeActorId(parseNodeId(node), new Uint8Array(8).fill(byte));
  return { actor, doc: loadRecordDoc([], actor), state: genesisState(), view: emptyView(ID), changes: new Map(), fast: 0, concurrent: 0 };
}

/** Op ids per field, the op counter, whether there is notes text and each actor's clock: what must agree. */
function shape(state: RecordState) {
  const ops = Object.fromEntries(Object.entries(state.ops).map(([path, refs]) => [path, refs.map((r) => opIdOf(state, r)).sort()]));
  const clock = Object.fromEntries(state.actors.map((actor, i) => [actor, state.clock?.[i] ?? [0, 0]]).filter(([, c]) => (c as number[])[0]! > 0));
  return { heads: [...state.heads].sort(), maxOp: state.maxOp, ops, notes: (state.notesLength ?? 0) > 0, clock };
}

function maxOpOf(doc: RecordDoc): number {
  return A.getChangesMetaSince(doc, []).reduce((max, c) => Math.max(max, c.maxOp), 6);
}

/** The replica's state and view must be what Automerge says about its document. */
function expectAgrees(r: Replica): void {
  const view = materialize(r.doc, ID);
  // Byte-identical JSON, not just equal: views are canonical however they were derived.
  expect(JSON.stringify(r.view)).toBe(JSON.stringify(view));
  expect(shape(r.state)).toEqual(shape(stateOfDoc(r.doc, maxOpOf(r.doc), undefined)));
  // What the state remembers must be in the document: former heads, superseded op ids of their field.
  const metas = A.getChangesMetaSince(r.doc, []);
  for (const [prefix, maxOp] of r.state.known ?? []) {
    const meta = metas.find((c) => c.hash.startsWith(prefix));
    expect(meta).toBeDefined();
    expect(maxOp).toBeGreaterThanOrEqual(meta!.maxOp);
  }
  // Each current value's time is its change's (merge policies compare them).
  for (const refs of Object.values(r.state.ops)) {
    for (const ref of refs) {
      if (ref[2] === undefined) continue;
      const made = metas.find((m) => m.actor === r.state.actors[ref[1]] && m.startOp <= ref[0] && ref[0] <= m.maxOp);
      expect(r.state.times![ref[2]]).toBe(made?.time ?? 0);
    }
  }
  const opsByField = fieldOps(r.doc);
  for (const [path, refs] of Object.entries(r.state.gone ?? {})) {
    for (const ref of refs) expect(opsByField.get(path)).toContain(opIdOf(r.state, ref));
  }
}

/** Every set or delete op id of every tracked field path in the document's history. */
function fieldOps(doc: RecordDoc): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const meta of A.getChangesMetaSince(doc, [])) {
    const change = decodeChange(A.getBackend(doc).getChangeByHash(meta.hash)!);
    change.ops.forEach((op, i) => {
      const path = op.key === null ? undefined : fieldPath(op.obj, op.key);
      if (path !== undefined) out.set(path, [...(out.get(path) ?? []), `${change.startOp + i}@${change.actor}`]);
    });
  }
  return out;
}

const value = fc.constantFrom('Ada', 'Grace', 'ada@example.com', 'Lovelace Ltd', '');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(null));
const tag = fc.constantFrom('vip', 'lead', 'churn');

const writeArb: fc.Arbitrary<RecordWrite> = fc.record({
  atomic: maybe(fc.record({ name: maybe(nullable(value)), email: maybe(nullable(value)), stage: maybe(nullable(fc.constantFrom('lead', 'won'))) }, { requiredKeys: [] })),
  address: maybe(fc.record({ city: maybe(nullable(fc.constantFrom('Oslo', 'Lyon'))), country: maybe(nullable(fc.constantFrom('NO', 'FR'))) }, { requiredKeys: [] })),
  replaceAddress: maybe(fc.boolean()),
  custom: maybe(fc.dictionary(fc.constantFrom('tier', 'score', 'active'), nullable(fc.oneof(value, fc.integer({ min: -5, max: 5 }), fc.double({ min: 0.5, max: 2, noNaN: true }), fc.boolean())), { maxKeys: 2 })),
  replaceCustom: maybe(fc.boolean()),
  addTags: maybe(fc.array(tag, { maxLength: 2 })),
  removeTags: maybe(fc.array(tag, { maxLength: 2 })),
  setTags: maybe(fc.array(tag, { maxLength: 2 })),
  notes: maybe(fc.constantFrom('', 'call back', 'call back Monday', 'Ωmega ✓')),
  incrementInteractions: maybe(fc.integer({ min: -2, max: 3 })),
  setInteractions: maybe(fc.integer({ min: 0, max: 4 })),
  deleted: maybe(fc.boolean()),
}, { requiredKeys: [] });

type Step = { kind: 'write'; who: 0 | 1; write: RecordWrite } | { kind: 'sync'; from: 0 | 1 };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), who: fc.constantFrom(0 as const, 1 as const), write: writeArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.constantFrom(0 as const, 1 as const) }) },
);

/** A local write: the document-free encoding when it takes it, else Automerge. */
function write(r: Replica, w: RecordWrite, now: number): void {
  const fast = encodeWrite(r.state, r.view, w, { actor: r.actor, now, author: 'test', id: ID });
  const slow = writeRecord(A.clone(r.doc), ID, w, now, 'test');
  if (!fast) {
    if (slow) freeDoc(slow.doc);
    const outcome = writeRecord(r.doc, ID, w, now, 'test');
    if (!outcome) return;
    r.doc = outcome.doc;
    r.changes.set(outcome.hash, outcome.change);
    const made = decodeChange(outcome.change);
    r.state = stateOfDoc(r.doc, made.startOp + made.ops.length - 1, { actor: made.actor, seq: made.seq });
    r.view = materialize(r.doc, ID);
    return;
  }
  // The same write through Automerge must have changed the same fields to the same view.
  expect(slow).not.toBeNull();
  expect(new Set(fast.fields)).toEqual(new Set(slow!.fields));
  expect(fast.view).toEqual(materialize(slow!.doc, ID));
  freeDoc(slow!.doc);
  r.doc = applyRecordChanges(r.doc, [fast.change]);
  expect(A.getHeads(r.doc)).toEqual([fast.hash]);
  const decoded = decodeChange(fast.change);
  expect(decoded.hash).toBe(fast.hash);
  expect(A.decodeChange(fast.change).seq).toBe(decoded.seq);
  r.changes.set(fast.hash, fast.change);
  r.state = fast.state;
  r.view = fast.view;
  r.fast++;
}

/** Receives what `from` has and `to` lacks, change by change, as ingest does. */
function sync(from: Replica, to: Replica): void {
  for (const [hash, change] of from.changes) {
    if (to.changes.has(hash)) continue;
    const info = decodeChange(change);
    const simple = applySimple(to.state, to.view, info);
    // A receiver decodes with text runs (change-info.ts): the same outcome, op for op.
    const joined = applySimple(to.state, to.view, decodeChange(change, { textRuns: true }));
    if (!isDeepStrictEqual(joined, simple)) expect(joined).toEqual(simple);
    to.doc = applyRecordChanges(to.doc, [change]);
    to.changes.set(hash, change);
    if (simple) {
      expect(fieldsOf(info.ops).length).toBeGreaterThan(0);
      if (!simple.linear) to.concurrent++;
      to.state = { ...simple.state, ...(to.state.local ? { local: to.state.local } : {}) };
      to.view = simple.view;
      to.fast++;
    } else {
      // As ingest reads it: from the state before and the change (expectAgrees compares it with a full read).
      const since = { state: to.state, applied: [{ ...info, opCount: info.ops.length }] };
      to.state = stateOfDoc(to.doc, Math.max(to.state.maxOp, info.startOp + info.ops.length - 1), to.state.local, since);
      to.view = materialize(to.doc, ID);
    }
    expectAgrees(to);
  }
}

describe('document-free record paths agree with Automerge', () => {
  it('encodeWrite and applySimple give exactly the view and state Automerge gives (seeded)', () => {
    let fastTotal = 0;
    let concurrentTotal = 0;
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 14 }), (steps) => {
        const replicas = [replica('north', 1), replica('laptop-7', 2)] as const;
        let now = 1_700_000_000_000;
        for (const step of steps) {
          now += 1000;
          if (step.kind === 'write') write(replicas[step.who], step.write, now);
          else sync(replicas[step.from], replicas[1 - step.from]!);
          for (const r of replicas) expectAgrees(r);
        }
        sync(replicas[0], replicas[1]);
        sync(replicas[1], replicas[0]);
        expect(isDeepStrictEqual(replicas[0].view, replicas[1].view)).toBe(true);
        expect(JSON.stringify(replicas[0].view)).toBe(JSON.stringify(replicas[1].view));
        fastTotal += replicas[0].fast + replicas[1].fast;
        concurrentTotal += replicas[0].concurrent + replicas[1].concurrent;
        for (const r of replicas) freeDoc(r.doc);
      }),
      { seed: 20261130, numRuns: 300 },
    );
    // The property means something only if the fast paths were taken often.
    expect(fastTotal).toBeGreaterThan(300);
    expect(concurrentTotal).toBeGreaterThan(50);
  }, 300_000); // 300 seeded runs of Automerge next to the fast paths: ~20 s idle, much longer on a loaded machine

  it('a later local write continues its actor sequence after document-free writes', () => {
    const r = replica('north', 3);
    write(r, { atomic: { name: 'Ada' } }, 1);
    write(r, { atomic: { email: 'ada@example.com' } }, 2);
    expect(r.state.local).toEqual({ actor: r.actor, seq: 2 });
    // A notes edit needs Automerge: its change must follow seq 2 of the same actor.
    write(r, { notes: 'first' }, 3);
    write(r, { notes: 'first, then more' }, 4);
    expect(A.decodeChange([...r.changes.values()].at(-1)!).seq).toBe(4);
    expectAgrees(r);
    freeDoc(r.doc);
  });
});
