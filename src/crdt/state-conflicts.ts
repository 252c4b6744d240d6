/**
 * Judging a concurrent value without the document: a field with one value (shown in the
 * view) gets a second value from a concurrent change. The merge policy needs each value,
 * its op id, the time of the change that wrote it, and the role of the node that wrote
 * it: the view has the first value, the state has its op id and its change's time
 * (RecordState.times), the trust list has the roles, and the change has the rest. So the
 * view is what `materialize` would show, with the field in conflict when the values
 * differ. Anything else (a field already in conflict, `stage` whose rule also reads the
 * reopen marks, a value whose time the state does not keep) is left to Automerge.
 */
import { nodeIdOfActor } from './actor.js';
import type { ChangeOp } from './change-codec/index.js';
import { pickWinner, ruleFor, type Candidate } from './merge-policy.js';
import { plain, type MergeContext } from './record-conflicts.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type RecordView } from './record-schema.js';
import type { OpRef, RecordState } from './record-state.js';

/** The outcome: whether the new value is shown, and whether the field is now in conflict. */
export interface Judgement {
  incomingWins: boolean;
  conflict: boolean;
}

/**
 * Judges `op` (op id `ref`, its actor already in `state.actors`, in a change at `time`) against the field's one
 * current value `current`; undefined when that needs the document.
 */
export function judgeConcurrent(
  state: RecordState, view: RecordView, path: string, current: OpRef,
  incoming: { ref: OpRef; op: ChangeOp; time: number }, merge: MergeContext,
): Judgement | undefined {
  const rule = ruleFor(merge.policies, path);
  if (rule === 'monotonic' || view.conflicts.includes(path)) return undefined;
  const time = current[2] === undefined ? undefined : state.times?.[current[2]];
  const shown = shownValue(state, view, path);
  const value = incoming.op.value;
  if (time === undefined || shown === undefined || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) return undefined;
  const candidate = (ref: OpRef, v: Candidate['value'], at: number): Candidate => {
    const actor = state.actors[ref[1]]!;
    const node = nodeIdOfActor(actor);
    return { value: v, opId: `${ref[0]}@${actor}`, time: at, role: node === undefined ? undefined : merge.roleOf(node), reopen: false };
  };
  const candidates = [candidate(current, shown, time), candidate(incoming.ref, plain(value), incoming.time)];
  const incomingWins = pickWinner(rule, candidates) === 1;
  // As isRealConflict compares them: equal values written twice are nothing to resolve.
  const key = (v: Candidate['value']) => `${typeof v}:${String(v)}`;
  return { incomingWins, conflict: key(candidates[0]!.value) !== key(candidates[1]!.value) };
}

/** The value the view shows for a conflict field with one value; undefined if it shows none. */
function shownValue(state: RecordState, view: RecordView, path: string): Candidate['value'] | undefined {
  if (path === 'name') return state.ops.name ? view.name : undefined;
  if (path === 'deleted') return view.deleted;
  if (path.startsWith('address.')) return view.address[path.slice(8) as keyof RecordView['address']];
  if (path.startsWith('custom.')) return view.custom[path.slice(7)];
  if ((ATOMIC_FIELDS as readonly string[]).includes(path)) return (view as unknown as Record<string, string | undefined>)[path];
  return undefined;
}

/** Rank of a conflict field in the order every node lists conflicts (record-conflicts.ts conflictPaths). */
function conflictRank(path: string): [number, string] {
  const atomic = (ATOMIC_FIELDS as readonly string[]).indexOf(path);
  if (atomic >= 0) return [atomic, ''];
  if (path.startsWith('address.')) return [100 + (ADDRESS_FIELDS as readonly string[]).indexOf(path.slice(8)), ''];
  if (path.startsWith('custom.')) return [200, path.slice(7)];
  return [300, ''];
}

/** `conflicts` with `path` added in the canonical order (unchanged if it is there). */
export function withConflict(conflicts: readonly string[], path: string): string[] {
  if (conflicts.includes(path)) return [...conflicts];
  const [rank, key] = conflictRank(path);
  const at = conflicts.findIndex((f) => {
    const [r, k] = conflictRank(f);
    return r > rank || (r === rank && k > key);
  });
  return at < 0 ? [...conflicts, path] : [...conflicts.slice(0, at), path, ...conflicts.slice(at)];
}
