/**
 * The op columns of a change chunk, as Automerge 3 lays them out. A column spec is
 * `id << 4 | deflate << 3 | type`; specs appear in ascending order, each at most once,
 * and a column with no data is left out entirely.
 */

/** Column type codes (the low 3 bits of a spec). */
export enum ColumnType {
  Group = 0,
  Actor = 1,
  Integer = 2,
  DeltaInteger = 3,
  Boolean = 4,
  String = 5,
  ValueMetadata = 6,
  Value = 7,
}

/** Slots of the 14 op columns a change may carry, in spec order. */
export enum Col {
  ObjActor,
  ObjCtr,
  KeyActor,
  KeyCtr,
  KeyStr,
  Insert,
  Action,
  ValMeta,
  ValRaw,
  PredGroup,
  PredActor,
  PredCtr,
  Expand,
  MarkName,
}

/** Number of column slots. */
export const COLUMN_COUNT = 14;

/** The spec (as written in the chunk) of each slot, ascending. */
export const COLUMN_SPECS: readonly number[] = [
  (0 << 4) | ColumnType.Actor, // obj actor
  (0 << 4) | ColumnType.Integer, // obj counter
  (1 << 4) | ColumnType.Actor, // key actor
  (1 << 4) | ColumnType.DeltaInteger, // key counter
  (1 << 4) | ColumnType.String, // key string
  (3 << 4) | ColumnType.Boolean, // insert
  (4 << 4) | ColumnType.Integer, // action
  (5 << 4) | ColumnType.ValueMetadata, // value metadata
  (5 << 4) | ColumnType.Value, // raw values
  (7 << 4) | ColumnType.Group, // pred count
  (7 << 4) | ColumnType.Actor, // pred actors
  (7 << 4) | ColumnType.DeltaInteger, // pred counters
  (9 << 4) | ColumnType.Boolean, // mark expand
  (10 << 4) | ColumnType.String, // mark name
];

/** Human names of the slots, for error messages. */
export const COLUMN_NAMES: readonly string[] = [
  'obj actor column',
  'obj counter column',
  'key actor column',
  'key counter column',
  'key string column',
  'insert column',
  'action column',
  'value metadata column',
  'value column',
  'pred count column',
  'pred actor column',
  'pred counter column',
  'expand column',
  'mark name column',
];

/** The slot of a spec, or -1 for a spec this codec does not know. */
export function slotOfSpec(spec: number): number {
  switch (spec) {
    case 0x01:
      return Col.ObjActor;
    case 0x02:
      return Col.ObjCtr;
    case 0x11:
      return Col.KeyActor;
    case 0x13:
      return Col.KeyCtr;
    case 0x15:
      return Col.KeyStr;
    case 0x34:
      return Col.Insert;
    case 0x42:
      return Col.Action;
    case 0x56:
      return Col.ValMeta;
    case 0x57:
      return Col.ValRaw;
    case 0x70:
      return Col.PredGroup;
    case 0x71:
      return Col.PredActor;
    case 0x73:
      return Col.PredCtr;
    case 0x94:
      return Col.Expand;
    case 0xa5:
      return Col.MarkName;
    default:
      return -1;
  }
}

/** Action column codes, by action name. */
export const ACTION_CODES = {
  makeMap: 0,
  set: 1,
  makeList: 2,
  del: 3,
  makeText: 4,
  inc: 5,
  makeTable: 6,
  markBegin: 7,
  markEnd: 7,
} as const;

/** Value metadata type codes, by datatype (the low 4 bits; the length is the rest). */
export const VALUE_TYPE = {
  null: 0,
  false: 1,
  true: 2,
  uint: 3,
  int: 4,
  f64: 5,
  str: 6,
  bytes: 7,
  counter: 8,
  timestamp: 9,
} as const;
