/**
 * The `textRuns` decoding (ChangeOp.run) against the op-by-op one: the same ops, a run of
 * text inserts joined into one op, refused exactly when the op-by-op decoding refuses.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import { decodeChange, type ChangeOp, type DecodedChange } from '../../src/crdt/change-codec/index.js';

/** Expands `joined` (decoded with textRuns) op by op and checks it is `perOp`, op for op. */
export function expectRunsAgree(perOp: DecodedChange, joined: DecodedChange): void {
  const { ops: joinedOps, ...joinedHeader } = joined;
  const { ops: perOpOps, ...perOpHeader } = perOp;
  expect(joinedHeader).toEqual(perOpHeader);
  const expanded: ChangeOp[] = [];
  for (const op of joinedOps) {
    const { run, ...plain } = op;
    expect(run).toBeGreaterThanOrEqual(1);
    if (run === 1) {
      expanded.push(plain);
      continue;
    }
    // A run: its ops' values joined; each after the one before, by the author.
    const at = perOpOps.length > expanded.length ? expanded.length : -1;
    expect(at).toBeGreaterThanOrEqual(0);
    const parts = perOpOps.slice(at, at + run!);
    expect(parts.map((p) => p.value).join('')).toBe(op.value);
    parts.forEach((p, m) => {
      const elemId = m === 0 ? op.elemId : `${perOp.startOp + at + m - 1}@${perOp.actor}`;
      expect({ ...p, value: null }).toEqual({ ...plain, elemId, value: null });
      expanded.push(p);
    });
  }
  if (!isDeepStrictEqual(expanded, perOpOps)) expect(expanded).toEqual(perOpOps);
}

/** Decodes `bytes` both ways: both refuse (the same code), or both decode and agree. */
export function decodesAlikeWithRuns(bytes: Uint8Array): void {
  let perOp: DecodedChange | undefined;
  let refused: unknown;
  try {
    perOp = decodeChange(bytes);
  } catch (err) {
    refused = err;
  }
  let joined: DecodedChange | undefined;
  try {
    joined = decodeChange(bytes, { textRuns: true });
  } catch (err) {
    if (refused === undefined) throw err;
    expect((err as { code?: string }).code).toBe((refused as { code?: string }).code);
    return;
  }
  if (refused !== undefined) expect.fail(`textRuns accepted a change the op-by-op decoding refuses: ${String(refused)}`);
  expectRunsAgree(perOp!, joined);
}
