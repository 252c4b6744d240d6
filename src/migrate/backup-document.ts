/**
 * How record documents and floors are stored inside a backup of format version 3 (a
 * truncated log): plain MessagePack like the entries (backup-entry.ts). A document
 * block holds `{ i: record id, d: whole Automerge document }` maps; the floors frame
 * holds one map `{ s: first log position included, f: [{ o, s, c, g, p, r, d }] }`. Untrusted
 * input like everything else in the file: every key, type and length is checked here,
 * the floors' signatures by the node (importFloors), the documents' content by the node
 * when it merges them (importDocuments).
 */
import { CrmsyncError, parseNodeId, parseRecordId, type BaseFloor } from '../index.js';
import { decodeMultiple, decodeValue, encodeValue } from './backup-entry.js';
import { MAX_FLOORS } from './backup-format.js';

/** One record's whole document as a backup holds it. */
export interface BackupDocument {
  id: string;
  doc: Uint8Array;
}

/** What the floors frame says: where the log in the file starts and each origin's floor. */
export interface BackupFloors {
  /** The backed-up node's first log position the file holds entries of. */
  logStart: number;
  floors: BaseFloor[];
}

const DOCUMENT_KEYS = new Set(['i', 'd']);
const FLOORS_KEYS = new Set(['s', 'f']);
const FLOOR_KEYS = new Set(['o', 's', 'c', 'g', 'p', 'r', 'd']);
const CHAIN_HEX = /^[0-9a-f]{64}$/;
const SIGNATURE_BYTES = 64;

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
const extraKey = (value: Record<string, unknown>, allowed: Set<string>) => Object.keys(value).find((key) => !allowed.has(key));
const isHash = (value: unknown): value is string => typeof value === 'string' && CHAIN_HEX.test(value);
const isPositive = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
const valid = (parse: (value: unknown) => unknown, value: unknown) => {
  try {
    parse(value);
    return true;
  } catch {
    return false;
  }
};

/** Encodes one record document for a document block. */
export function encodeDocument(document: BackupDocument): Uint8Array {
  return encodeValue({ i: document.id, d: document.doc });
}

/** Decodes the concatenated documents of one document block; ERR_CORRUPT on anything malformed. */
export function decodeDocuments(payload: Uint8Array, blockIndex: number): BackupDocument[] {
  let values: unknown[];
  try {
    values = decodeMultiple(payload);
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: document block ${blockIndex} is not valid MessagePack`, { cause });
  }
  return values.map((value, i) => {
    const problem = (why: string) => new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: document block ${blockIndex}, document ${i}: malformed document (${why})`);
    if (!isMap(value)) throw problem('not a map');
    const extra = extraKey(value, DOCUMENT_KEYS);
    if (extra !== undefined) throw problem(`unknown key ${JSON.stringify(extra).slice(0, 40)}`);
    const { i: id, d: doc } = value;
    if (!valid(parseRecordId, id)) throw problem('missing or invalid record id');
    if (!(doc instanceof Uint8Array) || doc.length === 0) throw problem('missing or empty document bytes');
    return { id: id as string, doc };
  });
}

/** Encodes the payload of the floors frame. */
export function encodeFloors(floors: BackupFloors): Uint8Array {
  return encodeValue({ s: floors.logStart, f: floors.floors.map((f) => ({ o: f.origin, s: f.seq, c: f.chain, g: f.sig, p: f.prev, r: f.record, d: f.digest })) });
}

/** Decodes the floors frame's payload; ERR_CORRUPT on anything malformed (each origin at most once). */
export function decodeFloors(payload: Uint8Array): BackupFloors {
  const problem = (why: string) => new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: the floors frame is malformed (${why})`);
  let value: unknown;
  try {
    value = decodeValue(payload);
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', 'backup file is corrupt: the floors frame is not valid MessagePack', { cause });
  }
  if (!isMap(value)) throw problem('not a map');
  const extra = extraKey(value, FLOORS_KEYS);
  if (extra !== undefined) throw problem(`unknown key ${JSON.stringify(extra).slice(0, 40)}`);
  const { s: logStart, f: list } = value;
  if (!isPositive(logStart)) throw problem('missing or invalid log start');
  if (!Array.isArray(list)) throw problem('no list of floors');
  if (list.length > MAX_FLOORS) throw problem(`${list.length} floors, more than ${MAX_FLOORS}`);
  const seen = new Set<string>();
  const floors = list.map((item: unknown, i): BaseFloor => {
    const bad = (why: string) => problem(`floor ${i}: ${why}`);
    if (!isMap(item)) throw bad('not a map');
    const unknown = extraKey(item, FLOOR_KEYS);
    if (unknown !== undefined) throw bad(`unknown key ${JSON.stringify(unknown).slice(0, 40)}`);
    const { o: origin, s: seq, c: chain, g: sig, p: prev, r: record, d: digest } = item;
    if (!valid(parseNodeId, origin)) throw bad('missing or invalid origin');
    if (seen.has(origin as string)) throw bad(`origin ${origin as string} has a second floor`);
    seen.add(origin as string);
    if (!isPositive(seq)) throw bad('missing or invalid sequence number');
    if (!isHash(chain)) throw bad('the chain hash is not 64 hex digits');
    if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) throw bad(`the signature is not ${SIGNATURE_BYTES} bytes`);
    if (!isHash(prev)) throw bad('the previous chain hash is not 64 hex digits');
    if (!valid(parseRecordId, record)) throw bad('missing or invalid record id');
    if (!isHash(digest)) throw bad('the change digest is not 64 hex digits');
    return { origin: origin as string, seq, chain, sig: Uint8Array.from(sig), prev, record: record as string, digest };
  });
  return { logStart, floors };
}
