/**
 * A change as large as a peer may send (MAX_CHANGE_OPS ops): the document-free paths
 * must take it in time linear in its ops. Membership checks per op that scanned what
 * came before (the view's tags, the fields touched) were quadratic: at 5829ab2, on the
 * 2-core development machine, applyGeneral took 19 s to create a record with 99,000
 * tags (6.0 s with 50,000), and applyCreation 4.6 s for 50,000 tags and 50,000
 * increments. The timeouts catch the general path's tag checks going quadratic again
 * (each is below what they took and about six times what the linear paths take there:
 * 0.6 and 2.6 s, most of the second in remembering superseded values); the shortcut's
 * scan of the touched fields cost less than its timeout, and the first test checks only
 * its outcome.
 */
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import type { ChangeOp } from '../../src/crdt/change-codec/index.js';
import { GENESIS_OBJECTS } from '../../src/crdt/change-info.js';
import { GENESIS_HASH } from '../../src/crdt/genesis.js';
import { applyCreation } from '../../src/crdt/record-creation.js';
import { applyGeneral, emptyView, genesisState, type SimpleChange } from '../../src/crdt/record-state.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const ID = parseRecordId('cust-1');
const ACTOR = makeActorId(parseNodeId('node-a'), new Uint8Array(8).fill(5));

const op = (obj: string, key: string, fields: Partial<ChangeOp>): ChangeOp =>
  ({ action: 'set', obj, key, elemId: null, insert: false, datatype: 'int', value: 1, pred: [], markName: null, expand: false, ...fields });
const name = op('_root', 'name', { datatype: 'str', value: 'Ada' });
/** n distinct tags in a scattered order (7919 is prime, so i -> 7919 i mod n is a permutation). */
const tagKeys = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${(i * 7919) % n}`);
const first = (ops: ChangeOp[]): SimpleChange => ({ hash: 'ab'.repeat(32), actor: ACTOR, deps: [GENESIS_HASH], seq: 1, startOp: 7, time: 1_700_000_000_000, ops });

describe('a change with as many ops as a peer may send', () => {
  it('creates a record with 50,000 tags and 50,000 increments, on the shortcut and the general path', () => {
    const keys = tagKeys(50_000);
    const incs = Array.from({ length: 50_000 }, () => op('_root', 'interactions', { action: 'inc', pred: ['5@00'] }));
    const change = first([name, ...keys.map((key) => op(GENESIS_OBJECTS.tags, key, {})), ...incs]);
    const sorted = [...keys].sort();
    for (const outcome of [applyCreation(genesisState(), emptyView(ID), change), applyGeneral(genesisState(), emptyView(ID), change)]) {
      expect(outcome?.view.tags).toEqual(sorted);
      expect(outcome?.view.interactions).toBe(50_000);
      expect(outcome?.touched.filter((f) => f === 'interactions')).toEqual(['interactions']);
    }
  }, 6_000);

  it('deletes 90,000 of 99,000 tags and adds 9,000 in one change on the general path', () => {
    const keys = tagKeys(99_000);
    const created = applyGeneral(genesisState(), emptyView(ID), first([name, ...keys.map((key) => op(GENESIS_OBJECTS.tags, key, {}))]))!;
    expect(created.view.tags).toHaveLength(99_000);
    // Tag t<k> was set by op 8 + (its index in keys); delete all but every eleventh, then add new ones.
    const counterOf = new Map(keys.map((key, i) => [key, 8 + i]));
    const kept = keys.filter((_, i) => i % 11 === 0);
    const deleted = keys.filter((_, i) => i % 11 !== 0);
    const added = Array.from({ length: 9_000 }, (_, i) => `n${i}`);
    const ops = [
      ...deleted.map((key) => op(GENESIS_OBJECTS.tags, key, { action: 'del', datatype: 'null', value: null, pred: [`${counterOf.get(key)}@${ACTOR}`] })),
      ...added.map((key) => op(GENESIS_OBJECTS.tags, key, {})),
    ];
    const second: SimpleChange = { hash: 'cd'.repeat(32), actor: ACTOR, deps: created.state.heads, seq: 2, startOp: created.state.maxOp + 1, time: 1_700_000_001_000, ops };
    const outcome = applyGeneral(created.state, created.view, second);
    expect(outcome?.view.tags).toEqual([...kept, ...added].sort());
  }, 15_000);
});
