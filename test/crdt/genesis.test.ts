import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { readChangeHeader } from '../../src/crdt/change-header.js';
import { GENESIS_BYTES, GENESIS_HASH } from '../../src/crdt/genesis.js';
import { makeActorId, nodeIdOfActor } from '../../src/crdt/actor.js';
import { hasCode } from '../../src/errors.js';
import { parseNodeId } from '../../src/types.js';

describe('genesis', () => {
  it('loads with the pinned heads and the record skeleton', () => {
    const doc = A.load<Record<string, unknown>>(GENESIS_BYTES);
    expect(A.getHeads(doc)).toEqual([GENESIS_HASH]);
    expect(Object.keys(doc).sort()).toEqual(['address', 'custom', 'deleted', 'interactions', 'notes', 'tags']);
  });
});

describe('change header', () => {
  it('reads the same hash and deps as Automerge', () => {
    let doc = A.load<{ name?: A.ImmutableString }>(GENESIS_BYTES, { actor: 'aa00bb' });
    doc = A.change(doc, (d) => { d.name = new A.ImmutableString('x'); });
    doc = A.change(doc, (d) => { d.name = new A.ImmutableString('y'); });
    const change = A.getLastLocalChange(doc)!;
    const decoded = A.decodeChange(change);
    expect(readChangeHeader(change)).toEqual({ hash: decoded.hash, deps: decoded.deps });
  });

  it('refuses flipped, truncated and foreign bytes with ERR_PROTOCOL', () => {
    let doc = A.load<{ n?: number }>(GENESIS_BYTES, { actor: 'aa00bb' });
    doc = A.change(doc, (d) => { d.n = 1; });
    const change = A.getLastLocalChange(doc)!;
    const flipped = change.slice();
    flipped[flipped.length - 1]! ^= 0xff;
    for (const bad of [flipped, change.slice(0, change.length - 3), new Uint8Array([1, 2, 3]), GENESIS_BYTES]) {
      let error: unknown;
      try {
        readChangeHeader(bad);
      } catch (err) {
        error = err;
      }
      expect(hasCode(error, 'ERR_PROTOCOL')).toBe(true);
    }
  });
});

describe('actor ids', () => {
  it('embed the node id and differ per incarnation', () => {
    const node = parseNodeId('berlin-1');
    const a = makeActorId(node, new Uint8Array(8).fill(1));
    const b = makeActorId(node, new Uint8Array(8).fill(2));
    expect(a).not.toBe(b);
    expect(nodeIdOfActor(a)).toBe('berlin-1');
    expect(nodeIdOfActor('00ff')).toBeUndefined();
  });
});
