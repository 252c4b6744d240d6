/**
 * Whether a received change keeps a record inside the record schema, decided from the
 * change's own operations. A check of the merged view after applying is not enough on
 * its own: the merged view depends on which concurrent changes a node already holds and
 * on how a sender cut its frames, so a bad value that loses a conflict (or that a later
 * change in the same frame overwrites) would be applied by one node and quarantined by
 * another, and the replicas would part for good. Every operation is therefore checked on
 * its own, against what the view reads at that place: a function of the change alone,
 * the same on every node.
 *
 * Honest writers (record-doc.ts) only ever write scalar values that the view schema
 * accepts to the root and to the genesis containers. Operations elsewhere (a newer
 * version's fields, see PROTOCOL.md "Versions") are allowed when they stay out of what
 * views read, and only on objects the same node created: whether an operation on an
 * object another node created applies depends on which of that node's changes arrived
 * first (Automerge refuses an operation on an object it does not hold yet).
 */
import { nodeIdOfActor } from './actor.js';
import { codePointLength } from './change-codec/index.js';
import { GENESIS_OBJECTS, type ChangeOp } from './change-info.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, MAX_NOTES_LENGTH, recordViewSchema, valueFits, type RecordView } from './record-schema.js';
import { MAX_RECORD_ID_LENGTH, RECORD_ID_PATTERN } from '../types.js';

const view = recordViewSchema.shape;
const ATOMIC: ReadonlySet<string> = new Set(ATOMIC_FIELDS);
const ADDRESS: ReadonlySet<string> = new Set(ADDRESS_FIELDS);
/** Root keys holding the genesis containers and the counter: never replaced or deleted. */
const FIXED_ROOT_KEYS: ReadonlySet<string> = new Set(['address', 'tags', 'notes', 'custom', 'interactions']);
/** Root keys holding times (ms): numbers, or deleted. */
const TIME_KEYS: ReadonlySet<string> = new Set(['createdAt', 'updatedAt', 'deletedAt']);
const NUMBER_TYPES: ReadonlySet<string | undefined> = new Set(['int', 'uint', 'f64']);
const GENESIS_ACTOR = '00';

type Op = ChangeOp & { key?: string; value?: unknown; datatype?: string; elemId?: string; insert?: boolean };

/** A plain string put (what A.ImmutableString writes). */
const isString = (op: Op): boolean => op.action === 'set' && typeof op.value === 'string' && (op.datatype === undefined || op.datatype === 'str');
const isNumber = (op: Op): boolean => op.action === 'set' && typeof op.value === 'number' && Number.isFinite(op.value) && NUMBER_TYPES.has(op.datatype);

/**
 * Undefined when every operation of a change by `origin` writes only what the record
 * schema allows where views read it; otherwise the reason (quarantine: never applied).
 */
export function schemaViolation(ops: readonly ChangeOp[], origin: string): string | undefined {
  for (const raw of ops) {
    const op = raw as Op;
    const problem = checkOp(op, origin);
    if (problem !== undefined) return `the change writes ${problem}, outside the record schema`;
  }
  return undefined;
}

function checkOp(op: Op, origin: string): string | undefined {
  switch (op.obj) {
    case '_root':
      return checkRoot(op);
    case GENESIS_OBJECTS.address:
      if (op.key === undefined || !ADDRESS.has(op.key) || op.action === 'del') return op.key === undefined ? 'a list operation into the address' : undefined;
      return isString(op) && valueFits(view.address.shape[op.key as keyof typeof view.address.shape], op.value) ? undefined : `an invalid address.${op.key}`;
    case GENESIS_OBJECTS.tags:
      if (op.key === undefined || !valueFits(view.tags.element, op.key)) return 'an invalid tag';
      return op.action === 'del' || isNumber(op) ? undefined : `an invalid value for tag ${JSON.stringify(op.key.slice(0, 64))}`;
    case GENESIS_OBJECTS.notes:
      return op.action === 'del' || isString(op) ? undefined : 'a non-character into the notes';
    case GENESIS_OBJECTS.custom:
      if (op.key === undefined || op.key.length < 1 || op.key.length > 64) return 'an invalid custom field name';
      if (op.action === 'del') return undefined;
      return isString(op) || isNumber(op) || (op.action === 'set' && typeof op.value === 'boolean')
        ? (valueFits(view.custom, { [op.key]: op.value }) ? undefined : `an invalid custom.${op.key}`)
        : `a non-scalar into custom.${op.key}`;
    default: {
      // An object outside what views read (a newer version's field): see the file comment.
      const creator = op.obj.slice(op.obj.indexOf('@') + 1);
      return creator !== GENESIS_ACTOR && nodeIdOfActor(creator) === origin ? undefined : 'into an object another node created';
    }
  }
}

function checkRoot(op: Op): string | undefined {
  const key = op.key;
  if (key === undefined) return 'a list operation into the record';
  if (ATOMIC.has(key)) {
    if (op.action === 'del') return undefined;
    return isString(op) && valueFits(view[key as keyof typeof view], op.value) ? undefined : `an invalid ${key}`;
  }
  if (key === 'interactions') return op.action === 'inc' && typeof op.value === 'number' && Number.isSafeInteger(op.value) ? undefined : 'over the interaction counter';
  if (FIXED_ROOT_KEYS.has(key)) return `over the ${key} of the record`;
  if (TIME_KEYS.has(key)) return op.action === 'del' || isNumber(op) ? undefined : `an invalid ${key}`;
  if (key === 'deleted') return op.action === 'set' && typeof op.value === 'boolean' ? undefined : 'an invalid deleted flag';
  if (key === 'id') return isString(op) ? undefined : 'an invalid record id';
  return undefined; // a field of a newer version: kept in the document, invisible to this one's views
}

/**
 * Whether a view derived op by op from changes that passed `schemaViolation` (the
 * document-free path, record-state.ts) is inside the view schema, without parsing it
 * (~5 µs a record on the receiver's hot path). Every value such a view shows is one
 * op's value, checked on its own, except the notes: their characters are checked one by
 * one, and only the view knows how many there are (in code points, as the schema counts
 * them; that path writes notes only into empty notes, one code point an op, so the cap on
 * ops per change keeps them within the limit today). The id is the entry's record, checked
 * by the wire codec; checked again as the view schema checks it.
 * test/crdt/change-schema-view.test.ts holds this to recordViewSchema on random changes.
 */
export function derivedViewFits(view: RecordView): boolean {
  // Counted only past the limit in UTF-16 units: a code point is at most two of them.
  const notesFit = view.notes.length <= MAX_NOTES_LENGTH || codePointLength(view.notes) <= MAX_NOTES_LENGTH;
  return notesFit && view.id.length <= MAX_RECORD_ID_LENGTH && RECORD_ID_PATTERN.test(view.id);
}
