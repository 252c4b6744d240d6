/**
 * Merge policies: each rule on real concurrent Automerge documents (whichever order the
 * replicas merge in, the view shows the same value, and recordConflicts names it and
 * the rule), the rules on their own (order-independent, property-tested), the notes
 * merge, and the configuration's validation.
 */
import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import {
  checkStageMove, DEFAULT_MERGE_POLICIES, pickWinner, resolvePolicies, MERGE_RULES, type Candidate, type MergePolicies,
} from '../../src/crdt/merge-policy.js';
import { recordConflicts, type MergeContext } from '../../src/crdt/record-conflicts.js';
import { applyRecordChanges, loadRecordDoc, materialize, writeRecord, type RecordDoc, type RecordWrite } from '../../src/crdt/record-doc.js';
import { hasCode } from '../../src/errors.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const id = parseRecordId('cust-7');
// 'zz-laptop' sorts after 'north': Automerge alone would pick the laptop's value in every tie.
const actorOf = (node: string) => makeActorId(parseNodeId(node), new Uint8Array(8).fill(node.length));
const roles: Record<string, string> = { north: 'region', 'zz-laptop': 'laptop' };
const context = (policies: Record<string, string> = {}): MergeContext => ({ policies: resolvePolicies(policies), roleOf: (node) => roles[node] });

function base(write: RecordWrite = {}): RecordDoc {
  const doc = loadRecordDoc([], actorOf('north'));
  return writeRecord(doc, id, { atomic: { name: 'Grace', stage: 'lead', territory: 'north-east' }, ...write }, 1000)!.doc;
}

/** Two replicas each write once from `start` (at the given times); returns both merge orders. */
function concurrent(start: RecordDoc, north: [RecordWrite, number], laptop: [RecordWrite, number]): [RecordDoc, RecordDoc] {
  const a = writeRecord(A.clone(start, { actor: actorOf('north') }), id, north[0], north[1])!.doc;
  const b = writeRecord(A.clone(start, { actor: actorOf('zz-laptop') }), id, laptop[0], laptop[1])!.doc;
  const merge = (x: RecordDoc, y: RecordDoc) => applyRecordChanges(A.clone(x), A.getChanges(A.init(), y));
  return [merge(a, b), merge(b, a)];
}

function shown(docs: [RecordDoc, RecordDoc], ctx: MergeContext) {
  const [ab, ba] = docs.map((d) => materialize(d, id, undefined, ctx));
  expect(ab).toEqual(ba);
  return ab!;
}

describe('merge policies on concurrent documents', () => {
  it('latest: the newer write wins although Automerge alone would pick the other (higher actor)', () => {
    const docs = concurrent(base(), [{ atomic: { title: 'VP Sales' } }, 3000], [{ atomic: { title: 'CTO' } }, 2000]);
    expect(shown(docs, context()).title).toBe('VP Sales');
    expect(docs[0].title?.toString()).toBe('CTO'); // what Automerge's own order shows
    const [title] = recordConflicts(docs[0], context());
    expect(title).toMatchObject({ field: 'title', rule: 'latest' });
    expect(title!.values.map((v) => [v.value, v.node, v.time, v.winner])).toEqual(
      expect.arrayContaining([['VP Sales', 'north', 3000, true], ['CTO', 'zz-laptop', 2000, false]]),
    );
    expect(recordConflicts(docs[1], context())).toEqual(recordConflicts(docs[0], context()));
  });

  it('latest: equal times fall back to the op order, the same on every replica', () => {
    const docs = concurrent(base(), [{ atomic: { title: 'A' } }, 3000], [{ atomic: { title: 'B' } }, 3000]);
    expect(shown(docs, context()).title).toBe('B');
  });

  it('owner-region: the region decides territory even against a later laptop write', () => {
    const docs = concurrent(base(), [{ atomic: { territory: 'north-west' } }, 2000], [{ atomic: { territory: 'south' } }, 9000]);
    expect(shown(docs, context()).territory).toBe('north-west');
    expect(recordConflicts(docs[0], context())[0]).toMatchObject({ field: 'territory', rule: 'owner-region' });
    // Declared `latest` instead, the later laptop write wins.
    expect(shown(docs, context({ territory: 'latest' })).territory).toBe('south');
  });

  it('monotonic: the stage furthest along wins over a later write of an earlier stage', () => {
    const docs = concurrent(base(), [{ atomic: { stage: 'won' } }, 2000], [{ atomic: { stage: 'qualified' } }, 5000]);
    expect(shown(docs, context()).stage).toBe('won');
  });

  it('monotonic: a later explicit reopen wins; an earlier one does not', () => {
    const start = base({ atomic: { name: 'Grace', stage: 'proposal' } });
    const later = concurrent(start, [{ atomic: { stage: 'won' } }, 2000], [{ atomic: { stage: 'lead' }, reopen: true }, 5000]);
    expect(shown(later, context()).stage).toBe('lead');
    expect(recordConflicts(later[0], context())[0]).toMatchObject({ field: 'stage', rule: 'monotonic' });
    const earlier = concurrent(start, [{ atomic: { stage: 'won' } }, 5000], [{ atomic: { stage: 'lead' }, reopen: true }, 2000]);
    expect(shown(earlier, context()).stage).toBe('won');
  });

  it('max and min pick the number, whichever was written later', () => {
    const docs = concurrent(base(), [{ custom: { budget: 50_000 } }, 2000], [{ custom: { budget: 20_000 } }, 5000]);
    expect(shown(docs, context({ 'custom.budget': 'max' })).custom.budget).toBe(50_000);
    expect(shown(docs, context({ 'custom.budget': 'min' })).custom.budget).toBe(20_000);
    expect(shown(docs, context()).custom.budget).toBe(20_000);
  });

  it('a write of one of the concurrent values resolves the conflict (even the value Automerge lists first)', () => {
    const docs = concurrent(base(), [{ atomic: { title: 'VP Sales' } }, 3000], [{ atomic: { title: 'CTO' } }, 2000]);
    const resolved = writeRecord(docs[0], id, { atomic: { title: 'CTO' } }, 4000);
    expect(resolved).not.toBeNull();
    const view = materialize(resolved!.doc, id, undefined, context());
    expect(view.title).toBe('CTO');
    expect(view.conflicts).toEqual([]);
  });

  it('notes: two concurrent whole replacements both stay readable; concurrent small edits both apply', () => {
    const start = base({ notes: 'Called about the renewal.' });
    const replaced = concurrent(start, [{ notes: 'Prefers e-mail. Decision in May.' }, 2000], [{ notes: 'Budget frozen until Q3, call Tom.' }, 3000]);
    const notes = shown(replaced, context()).notes;
    expect(notes.split('\n').sort()).toEqual(['Budget frozen until Q3, call Tom.', 'Prefers e-mail. Decision in May.']);
    const edited = concurrent(start, [{ notes: 'Called about the renewal. Sent offer.' }, 2000], [{ notes: 'Called Ann about the renewal.' }, 3000]);
    expect(shown(edited, context()).notes).toBe('Called Ann about the renewal. Sent offer.');
  });
});

describe('merge rules', () => {
  const candidate = fc.record({
    value: fc.oneof(fc.constantFrom('lead', 'qualified', 'proposal', 'won', 'lost', 'churned'), fc.integer({ min: -5, max: 5 }), fc.boolean()),
    counter: fc.integer({ min: 1, max: 50 }),
    actor: fc.constantFrom('aa', 'bb', 'cc'),
    time: fc.integer({ min: 0, max: 5 }),
    role: fc.constantFrom('region', 'laptop', undefined),
    reopen: fc.boolean(),
  }).map((c): Candidate => ({ value: c.value, opId: `${c.counter}@${c.actor}`, time: c.time, role: c.role, reopen: c.reopen }));
  const distinct = fc.uniqueArray(candidate, { minLength: 1, maxLength: 6, selector: (c) => c.opId });

  it('pick the same candidate whatever order the candidates come in (seeded)', () => {
    fc.assert(fc.property(distinct, fc.constantFrom(...MERGE_RULES), fc.infiniteStream(fc.nat()), (list, rule, seeds) => {
      const shuffled = list.map((c) => [seeds.next().value, c] as const).sort((a, b) => a[0] - b[0]).map(([, c]) => c);
      expect(list[pickWinner(rule, list)]!.opId).toBe(shuffled[pickWinner(rule, shuffled)]!.opId);
    }), { seed: 1010, numRuns: 500 });
  });

  it('latest picks the highest time; owner-region a region value whenever there is one', () => {
    fc.assert(fc.property(distinct, (list) => {
      const latest = list[pickWinner('latest', list)]!;
      expect(list.every((c) => c.time <= latest.time)).toBe(true);
      const owner = list[pickWinner('owner-region', list)]!;
      if (list.some((c) => c.role === 'region')) expect(owner.role).toBe('region');
    }), { seed: 1011, numRuns: 300 });
  });

  it('max and min prefer numbers and pick the extreme one', () => {
    fc.assert(fc.property(distinct, (list) => {
      const numbers = list.map((c) => c.value).filter((v): v is number => typeof v === 'number');
      if (numbers.length === 0) return;
      expect(list[pickWinner('max', list)]!.value).toBe(Math.max(...numbers));
      expect(list[pickWinner('min', list)]!.value).toBe(Math.min(...numbers));
    }), { seed: 1012, numRuns: 300 });
  });
});

describe('merge policy configuration', () => {
  it('has defaults: regions decide territory and owner, the stage only moves forward', () => {
    expect(resolvePolicies(undefined)).toEqual(DEFAULT_MERGE_POLICIES);
    expect(resolvePolicies({ 'custom.budget': 'max', territory: 'latest' })).toMatchObject({ 'custom.budget': 'max', territory: 'latest', stage: 'monotonic' });
  });

  it('refuses rules that cannot apply, naming the field and the fix', () => {
    const bad: [Record<string, string>, string][] = [
      [{ email: 'monotonic' }, 'monotonic applies to stage only'],
      [{ name: 'max' }, 'max applies to numeric custom fields'],
      [{ tags: 'latest' }, 'not a field that can hold concurrent values'],
      [{ stage: 'newest' }, 'mergePolicies.stage'],
      [{ 'has space': 'latest' }, 'has space is not a field'],
    ];
    for (const [policies, message] of bad) {
      let error: unknown;
      try {
        resolvePolicies(policies);
      } catch (err) {
        error = err;
      }
      expect(hasCode(error, 'ERR_VALIDATION'), JSON.stringify(policies)).toBe(true);
      expect(String((error as Error).message) + JSON.stringify((error as { details?: unknown }).details)).toContain(message);
    }
  });

  it('refuses a local move back along the pipeline unless it is a reopen', () => {
    const policies: MergePolicies = DEFAULT_MERGE_POLICIES;
    expect(() => checkStageMove(policies, 'won', 'lead', false)).toThrow(/reopen/);
    expect(() => checkStageMove(policies, 'won', 'lead', true)).not.toThrow();
    expect(() => checkStageMove(policies, 'lead', 'won', false)).not.toThrow();
    expect(() => checkStageMove(policies, 'won', 'lost', false)).not.toThrow();
    expect(() => checkStageMove(resolvePolicies({ stage: 'latest' }), 'won', 'lead', false)).not.toThrow();
  });
});
