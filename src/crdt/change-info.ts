/**
 * What a node reads from a change's bytes before it trusts them: the change is parsed
 * completely (a body that does not parse is refused), and the time, author and touched
 * fields that history and the change feed show are derived from it, never taken from
 * a peer's word.
 */
import * as A from '@automerge/automerge';
import { CrmsyncError } from '../errors.js';
import { nodeIdOfActor } from './actor.js';
import { readChangeHeader } from './change-header.js';

/** One operation of a change (Automerge's decoded form). */
export type ChangeOp = A.DecodedChange['ops'][number];

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
  ops: ChangeOp[];
}

/** Object ids of the record skeleton the genesis change creates (see genesis.ts). */
export const GENESIS_OBJECTS = { address: '1@00', tags: '2@00', notes: '3@00', custom: '4@00' } as const;

/** Parses a change completely; ERR_PROTOCOL when the bytes are not a valid change. */
export function inspectChange(bytes: Uint8Array): ChangeInfo {
  const header = readChangeHeader(bytes);
  let decoded: A.DecodedChange;
  try {
    decoded = A.decodeChange(bytes);
  } catch (cause) {
    throw new CrmsyncError('ERR_PROTOCOL', 'the Automerge change body does not parse', { cause });
  }
  return {
    hash: header.hash, deps: header.deps, actor: decoded.actor, node: nodeIdOfActor(decoded.actor), seq: decoded.seq,
    startOp: decoded.startOp, time: decoded.time, message: decoded.message ?? null, ops: decoded.ops,
  };
}

/** The record field paths a change's operations touch, as history shows them. */
export function fieldsOf(ops: readonly ChangeOp[]): string[] {
  const fields = new Set<string>();
  for (const op of ops) {
    const key = 'key' in op ? op.key : undefined;
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
