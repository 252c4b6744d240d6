/** The public library API of crmsync. Drivers (api, cli, import, demo) use only this. */
export { openNode } from './node.js';
export type { CrmNode, NodeOptions, NodeStatus, RecordsApi, ListOptions, ChangeFeedEntry, UpsertItem, UpsertResult } from './node.js';
export type { ChangeEntry, StoredEntry } from './crdt/change-entry.js';
export type { RecordView, RecordInputLike, RecordPatchLike, Stage, Address } from './crdt/record-schema.js';
export { STAGES, ATOMIC_FIELDS, ADDRESS_FIELDS, recordInputSchema, recordPatchSchema } from './crdt/record-schema.js';
export type { FieldConflict, ConflictValue } from './crdt/record-doc.js';
export type { RecordChangeEvent, HistoryEntry } from './sync/replica.js';
export type { PeerStatus, DialState } from './sync/peers.js';
export { CrmsyncError, hasCode, ERROR_CODES, type ErrorCode, type FieldIssue } from './errors.js';
export { DEFAULT_LIMITS, type Limits } from './limits.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { parseNodeId, parseRecordId, type NodeId, type RecordId } from './types.js';
export type { IndexName } from './store/indexes.js';
export type { Timers } from './timers.js';
export type { Transport, Connection } from './net/transport.js';
export { MemoryNetwork } from './net/memory-transport.js';
export { entryToValue, entryFromValue } from './sync/codec.js';
export type { VerifyReport, VerifyProblem } from './sync/verify.js';
