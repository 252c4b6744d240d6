/**
 * What a node reads from a change's bytes before it trusts them: the change is parsed
 * completely (a body that does not parse is refused), and the time, author and touched
 * fields that history and the change feed show are derived from it, never taken from
 * a peer's word.
 */
import { nodeIdOfActor } from './actor.js';
import { decodeChange, type ChangeOp } from './change-codec/index.js';

export type { ChangeOp };

/** A parsed change. */
export interface ChangeInfo {
  hash: string;
  deps: string[];
  actor: string;
  /** The node that wrote it, from the actor id (undefined for a foreign actor). */
  node: string | undefined;
  seq: number;
  startOp: number;
  /** The change's time field: ms since epoch for changes crmsync writes. */
  time: number;
  /** The change's message: crmsync stores the author there (e.g. 'import:crm-export'). */
  message: string | null;
  /** The ops, text inserts joined into runs (ChangeOp.run): decoded with `textRuns`. */
  ops: ChangeOp[];
  /** How many ops the change holds (runs counted op by op): its last op is startOp + opCount - 1. */
  opCount: number;
}

/** Object ids of the record skeleton the genesis change creates (see genesis.ts). */
export const GENESIS_OBJECTS = { address: '1@00', tags: '2@00', notes: '3@00', custom: '4@00' } as const;

/**
 * Parses a change completely and strictly (change-codec: every column, every reference,
 * the checksum); ERR_PROTOCOL when the bytes are not a valid change.
 */
export function inspectChange(bytes: Uint8Array): ChangeInfo {
  const decoded = decodeChange(bytes, { textRuns: true });
  let opCount = 0;
  for (const op of decoded.ops) opCount += op.run ?? 1;
  return {
    hash: decoded.hash, deps: decoded.deps, actor: decoded.actor, node: nodeIdOfActor(decoded.actor), seq: decoded.seq,
    startOp: decoded.startOp, time: decoded.time, message: decoded.message, ops: decoded.ops, opCount,
  };
}

/** The record field paths a change's operations touch, as history shows them. */
export function fieldsOf(ops: readonly ChangeOp[]): string[] {
  const fields = new Set<string>();
  for (const op of ops) {
    const key = op.key ?? undefined;
    if (op.obj === '_root') {
      if (key === 'id' || key === 'createdAt' || key === 'updatedAt' || key === 'deletedAt' || key === undefined) continue;
      fields.add(key);
    } else if (op.obj === GENESIS_OBJECTS.address && key !== undefined) fields.add(`address.${key}`);
    else if (op.obj === GENESIS_OBJECTS.custom && key !== undefined) fields.add(`custom.${key}`);
    else if (op.obj === GENESIS_OBJECTS.tags) fields.add('tags');
    else if (op.obj === GENESIS_OBJECTS.notes) fields.add('notes');
  }
  return [...fields];
}
