/**
 * What a record's state knows is in its document beyond the current values: enough for
 * a change made concurrently with ours (on heads we have since moved past) to be applied
 * without the document, and for every change to be checked the way Automerge checks it.
 *
 *  - `clock`: every actor's last seq and highest op counter. Automerge refuses a change
 *    whose seq is not the next of its actor (a second change under the same seq is a
 *    forged fork), so the document-free path must refuse it too; a change whose ops start
 *    after its actor's highest counter cannot reuse an op id.
 *  - `known`: the changes applied last (and, after stateOfDoc, the heads and what they
 *    depend on), newest last, each with its highest op counter: a concurrent change's
 *    deps must be among them or among the heads (or Automerge would find them missing),
 *    and its ops must be numbered above theirs (as every writer numbers them; Automerge
 *    takes a change that is not, and then cannot load the document again).
 *  - `gone`: op ids that were a field's current value until a recent change superseded
 *    them: a concurrent change's pred may only name ops of the same field that the
 *    document holds (Automerge panics on an op it does not hold, and a pred naming another
 *    field's op would delete that value), so each pred must be current or gone here.
 *
 * Beside them, `times` holds the time of each change that wrote a current value (op refs
 * point into it), which merge policies read (state-conflicts.ts).
 *
 * All of these are facts about the document, never guesses: trimming them (they are
 * bounded) only sends more changes to Automerge. A state read back from a document
 * (state-of-doc.ts) has the whole clock, and remembers the heads, what they depend on and
 * the ops their preds name.
 */
import type { OpRef, RecordState } from './record-state.js';

/** Changes remembered (hash prefixes, see KNOWN_HASH_CHARS). */
export const MAX_KNOWN_CHANGES = 3;
/** Superseded op ids remembered, over all fields. */
export const MAX_GONE_OPS = 8;
/**
 * Hex characters of a remembered change hash: 96 bits. Matching a remembered prefix with a
 * change that is not in the document would take a second preimage of SHA-256 on 96 bits,
 * and would still need a member's signature.
 */
export const KNOWN_HASH_CHARS = 24;

/**
 * The highest op counter of the change `hash` if the state knows the document holds it
 * (for a head not remembered, the state's highest counter: a bound above it); undefined
 * when the state does not know it.
 */
export function knownMaxOp(state: RecordState, hash: string): number | undefined {
  return rememberedMaxOp(state, hash) ?? (state.heads.includes(hash) ? state.maxOp : undefined);
}

/** The highest op counter of the change `hash` if the state remembers it (`known`), else undefined. */
export function rememberedMaxOp(state: RecordState, hash: string): number | undefined {
  const prefix = hash.slice(0, KNOWN_HASH_CHARS);
  return state.known?.find((k) => k[0] === prefix)?.[1];
}

/** The clock entry of `actor` ([seq, maxOp]; [0, 0] if it never wrote), or undefined when the state has no clock. */
export function actorClock(state: RecordState, actor: string): readonly [number, number] | undefined {
  if (!state.clock) return undefined;
  const index = state.actors.indexOf(actor);
  return index < 0 ? [0, 0] : state.clock[index] ?? [0, 0];
}

/** Whether the change continues its actor the way Automerge requires (next seq, fresh op ids). */
export function continuesActor(state: RecordState, change: { actor: string; seq: number; startOp: number }): boolean {
  const clock = actorClock(state, change.actor);
  return clock !== undefined && change.seq === clock[0] + 1 && change.startOp > clock[1];
}

/** Remembers a change the document holds, with its highest op counter. */
export function rememberChange(next: RecordState, hash: string, maxOp: number): void {
  const prefix = hash.slice(0, KNOWN_HASH_CHARS);
  const known = (next.known ?? []).filter((k) => k[0] !== prefix);
  known.push([prefix, maxOp]);
  next.known = known.slice(-MAX_KNOWN_CHANGES);
}

/** Remembers op ids of `path` a change superseded; the oldest are dropped past MAX_GONE_OPS. */
export function rememberGone(next: RecordState, path: string, refs: readonly OpRef[]): void {
  if (refs.length === 0) return;
  // Insertion order is age: the path written now goes last.
  const gone: Record<string, OpRef[]> = {};
  for (const [p, old] of Object.entries(next.gone ?? {})) if (p !== path) gone[p] = [...old];
  gone[path] = [...(next.gone?.[path] ?? []), ...refs];
  let total = 0;
  for (const refsOf of Object.values(gone)) total += refsOf.length;
  for (const p of Object.keys(gone)) {
    if (total <= MAX_GONE_OPS) break;
    const list = gone[p]!;
    while (total > MAX_GONE_OPS && list.length > 0) {
      list.shift();
      total--;
    }
    if (list.length === 0) delete gone[p];
  }
  next.gone = gone;
}

/** Whether op id `[counter, actor]` was a value of `path` that a recent change superseded. */
export function isGone(state: RecordState, path: string, counter: number, actor: number): boolean {
  return state.gone?.[path]?.some((r) => r[0] === counter && r[1] === actor) ?? false;
}

/** Records the change in its actor's clock entry (actor index `actor`, already in `next.actors`). */
export function advanceClock(next: RecordState, actor: number, seq: number, lastOp: number): void {
  if (!next.clock) return;
  const clock = [...next.clock];
  while (clock.length < next.actors.length) clock.push([0, 0]);
  clock[actor] = [seq, lastOp];
  next.clock = clock;
}

/** The index of `time` in `next.times`, added if new (`next.times` may be shared with the state before: it is copied). */
export function timeIndex(next: RecordState & { times: number[] }, time: number): number {
  const at = next.times.indexOf(time);
  if (at >= 0) return at;
  next.times = [...next.times, time];
  return next.times.length - 1;
}

/** Drops times no op ref points to any more, renumbering the refs (`next.ops` must be a copy it may change). */
export function compactTimes(next: RecordState): void {
  const times = next.times;
  if (!times) return;
  const used: boolean[] = new Array<boolean>(times.length).fill(false);
  let count = 0;
  for (const path in next.ops) {
    for (const ref of next.ops[path]!) {
      if (ref[2] !== undefined && !used[ref[2]]) {
        used[ref[2]] = true;
        count++;
      }
    }
  }
  if (count === times.length) return; // the common case: nothing to drop, nothing allocated
  const renumber: number[] = [];
  const kept: number[] = [];
  times.forEach((time, i) => {
    if (!used[i]) return;
    renumber[i] = kept.length;
    kept.push(time);
  });
  for (const path in next.ops) {
    const refs = next.ops[path]!;
    if (refs.every((r) => r[2] === undefined || renumber[r[2]] === r[2])) continue;
    next.ops[path] = refs.map((r): OpRef => (r[2] === undefined ? r : [r[0], r[1], renumber[r[2]]!]));
  }
  next.times = kept;
}
