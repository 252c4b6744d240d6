/**
 * A record's conflicts: fields holding concurrent values, who wrote each value and when,
 * and which one the view shows under the declared merge policy (merge-policy.ts).
 * Reading a value's time and author needs the metadata of the change that wrote it; that
 * is read once per document, and only when a field is in conflict (rare), so the common
 * path pays nothing.
 */
import * as A from '@automerge/automerge';
import { nodeIdOfActor } from './actor.js';
import {
  DEFAULT_MERGE_POLICIES, pickWinner, REOPEN_KEY, ruleFor,
  type Candidate, type MergePolicies, type MergeRule,
} from './merge-policy.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS } from './record-schema.js';

/** What picking a winner needs besides the document: the policies and each node's role. */
export interface MergeContext {
  policies: MergePolicies;
  /** A node's role in the trust list (undefined when unknown). */
  roleOf(node: string): string | undefined;
}

/** The defaults, with no roles known (tests, tools reading a document offline). */
export const DEFAULT_MERGE_CONTEXT: MergeContext = { policies: DEFAULT_MERGE_POLICIES, roleOf: () => undefined };

/** One value of a conflicted field and who wrote it. */
export interface ConflictValue {
  value: string | number | boolean | null;
  /** The node that wrote it (from the actor id), or null if unknown. */
  node: string | null;
  /** The Automerge operation id. */
  opId: string;
  /** When it was written (ms, the change's hybrid logical clock time). */
  time: number;
  /** Who wrote it, as the writing node recorded (e.g. a user or `import:crm`), or null. */
  author: string | null;
  /** True for the value every node shows (the merge policy's winner). */
  winner: boolean;
}

/** A field with concurrent values. */
export interface FieldConflict {
  field: string;
  /** The merge rule that picked the winner. */
  rule: MergeRule;
  values: ConflictValue[];
}

/** True for a field path that can hold a conflict (what conflictPaths enumerates). */
export function isConflictField(field: string): boolean {
  if (field.startsWith('custom.')) return field.length > 'custom.'.length;
  if (field.startsWith('address.')) return (ADDRESS_FIELDS as readonly string[]).includes(field.slice('address.'.length));
  return field === 'deleted' || (ATOMIC_FIELDS as readonly string[]).includes(field);
}

type AnyDoc = A.Doc<{ custom: Record<string, unknown> }>;

/** Field paths whose concurrent values a user may need to resolve, in the order every node lists them. */
export function conflictPaths(doc: AnyDoc): string[][] {
  const paths: string[][] = ATOMIC_FIELDS.map((f) => [f]);
  for (const part of ADDRESS_FIELDS) paths.push(['address', part]);
  // Sorted: Automerge's key order depends on the order changes arrived in.
  const backend = A.getBackend(doc);
  for (const key of backend.keys(containerAt(backend, 'custom', 'map')).sort()) paths.push(['custom', key]);
  paths.push(['deleted']);
  return paths;
}

/**
 * The object id of a root container (a genesis object), checked to be the kind the record
 * shape has: a change that replaced it leaves a document that is not a record (TypeError).
 */
export function containerAt(backend: ReturnType<typeof A.getBackend>, key: string, kind: 'map' | 'text'): string {
  const values = backend.getAll('_root', key);
  const winner = values[values.length - 1];
  if (!winner || winner[0] !== kind) throw new TypeError(`${key} is not a ${kind}: not a record document`);
  return String(winner[1]);
}

/**
 * The concurrent values at `path` (op id -> value), or undefined; read through the
 * backend, which every node reads alike (record-doc.ts materialize says why).
 */
export function conflictsAt(doc: AnyDoc, path: readonly string[]): Record<string, unknown> | undefined {
  const backend = A.getBackend(doc);
  const obj = path.length === 1 ? '_root' : containerAt(backend, path[0]!, 'map');
  const values = backend.getAll(obj, path[path.length - 1]!);
  if (values.length === 0) return undefined;
  // Each value is [datatype, value, op id].
  return Object.fromEntries(values.map((v) => [String(v[v.length - 1]), v[1]]));
}

/** A plain value (ImmutableStrings unwrapped). */
export function plain(value: unknown): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (A.isImmutableString(value)) return value.val;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}

/**
 * A field is in conflict only when its concurrent values differ: two nodes that set
 * the same name concurrently (an import run on both, say) have nothing to resolve.
 */
export function isRealConflict(values: Record<string, unknown> | undefined): values is Record<string, unknown> {
  if (!values) return false;
  const distinct = new Set(Object.values(values).map((v) => `${typeof plain(v)}:${String(plain(v))}`));
  return distinct.size > 1;
}

/** Change metadata by op, read once per document on first use. */
export class ChangeIndex {
  #byActor: Map<string, A.ChangeMetadata[]> | undefined;
  #reopens: Set<string> | undefined;

  constructor(private readonly doc: AnyDoc) {}

  /** The change that made op `opId` (`counter@actor`). */
  changeOf(opId: string): A.ChangeMetadata | undefined {
    if (!this.#byActor) {
      this.#byActor = new Map();
      for (const meta of A.getChangesMetaSince(this.doc, [])) {
        const list = this.#byActor.get(meta.actor) ?? [];
        list.push(meta);
        this.#byActor.set(meta.actor, list);
      }
    }
    const at = opId.indexOf('@');
    const counter = Number(opId.slice(0, at));
    return this.#byActor.get(opId.slice(at + 1))?.find((m) => m.startOp <= counter && counter <= m.maxOp);
  }

  /** True when the change that made `opId` also marked an explicit reopen. */
  isReopen(opId: string): boolean {
    if (!this.#reopens) {
      this.#reopens = new Set();
      // Every current value of the mark (getConflicts lists only two or more).
      for (const value of A.getBackend(this.doc).getAll('_root', REOPEN_KEY)) {
        const hash = this.changeOf(String(value[value.length - 1]))?.hash;
        if (hash) this.#reopens.add(hash);
      }
    }
    const hash = this.changeOf(opId)?.hash;
    return hash !== undefined && this.#reopens.has(hash);
  }
}

/** The candidates of one conflicted field, in op id order. */
export function candidatesOf(values: Record<string, unknown>, index: ChangeIndex, context: MergeContext): (Candidate & { node: string | null; author: string | null })[] {
  return Object.entries(values).map(([opId, raw]) => {
    const change = index.changeOf(opId);
    const node = nodeIdOfActor(opId.slice(opId.indexOf('@') + 1)) ?? null;
    return {
      value: plain(raw), opId, time: change?.time ?? 0, author: change?.message ?? null, node,
      role: node === null ? undefined : context.roleOf(node), reopen: index.isReopen(opId),
    };
  }).sort((a, b) => (a.opId < b.opId ? -1 : a.opId > b.opId ? 1 : 0));
}

/** The value the view shows for a conflicted field under the context's policy. */
export function winningValue(field: string, values: Record<string, unknown>, index: ChangeIndex, context: MergeContext): Candidate['value'] {
  const candidates = candidatesOf(values, index, context);
  return candidates[pickWinner(ruleFor(context.policies, field), candidates)]!.value;
}

/** All conflicted fields of a record with every concurrent value, its author, time, and the winner. */
export function recordConflicts(doc: AnyDoc, context: MergeContext = DEFAULT_MERGE_CONTEXT): FieldConflict[] {
  const result: FieldConflict[] = [];
  const index = new ChangeIndex(doc);
  for (const path of conflictPaths(doc)) {
    const values = conflictsAt(doc, path);
    if (!isRealConflict(values)) continue;
    const field = path.join('.');
    const rule = ruleFor(context.policies, field);
    const candidates = candidatesOf(values, index, context);
    const winner = pickWinner(rule, candidates);
    result.push({
      field, rule,
      values: candidates.map((c, i) => ({ value: c.value, node: c.node, opId: c.opId, time: c.time, author: c.author, winner: i === winner })),
    });
  }
  return result;
}
