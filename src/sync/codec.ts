/**
 * The only place where bytes become a Message. Plain MessagePack (msgpackr without its
 * record extension), short keys for change entries. Validation is hand-written for the
 * hot path: it checks every field against hard bounds and stops at the first problem,
 * so a malformed frame costs little (a peer's bad frame is never slower than a good one).
 *
 * Versioning policy (PROTOCOL.md, "Versions"): once a session is open, a frame of a
 * message kind this version does not know is reported as `{ unknown }` and ignored;
 * unknown keys of known messages are ignored; unknown keys of change entries are kept
 * and relayed unchanged. During the handshake only handshake messages are parsed.
 */
import { Packr } from 'msgpackr';
import type { ChangeEntry } from '../crdt/change-entry.js';
import { MAX_HOLDING_NAME, type HoldingFilter } from '../crdt/holding.js';
import { CHAIN_HASH_BYTES, type WireClock } from '../crdt/origin-clock.js';
import { MAX_TERRITORY_LENGTH } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../trust/keys.js';
import { MAX_RECORD_ID_LENGTH, NODE_ID_PATTERN as NODE_ID, RECORD_ID_PATTERN as RECORD_ID, type NodeId, type RecordId } from '../types.js';
import { DICTIONARY_FRAME_MARK, inflateFrame, inflateWithDictionary } from './frame-deflate.js';
import type { DictionaryZlib } from './dictionary-zlib.js';
import { scanFrame, type FrameBudget } from './frame-scan.js';
import { DIGEST_FANOUT, DIGEST_HASH_BYTES, DIGEST_ID_NIBBLES, isDigestPath } from './digest.js';
import {
  HANDSHAKE_TYPES, MESSAGE_TYPES, PROTOCOL_VERSION,
  type ChangesMessage, type DigestAsk, type DigestPath, type DigestRequestMessage, type DigestResponseMessage, type HeldSeqs, type HoldsMessage, type HoldsReport, type Message,
} from './messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

const ENTRY_KEYS = new Set(['o', 's', 'r', 'c', 'h', 'g', 'p']);
/** Most unknown keys an entry may carry (they are stored and relayed). */
const MAX_ENTRY_EXTENSIONS = 16;
/** Longest territory or owner name in a subscription (as in the record schema). */
/** The (empty) change of a stub entry. */
const STUB_BODY = new Uint8Array(0);
/** Bytes of a nonce in hello. */
export const NONCE_BYTES = 32;

type Obj = Record<string, unknown>;

const FRAME_BUDGET: FrameBudget = { items: FIXED.maxFrameValues, containers: FIXED.maxFrameContainers, depth: FIXED.maxFrameDepth };
const HANDSHAKE_BUDGET: FrameBudget = { items: FIXED.maxHandshakeFrameValues, containers: FIXED.maxHandshakeFrameValues, depth: FIXED.maxFrameDepth };

function bad(what: string): CrmsyncError {
  return new CrmsyncError('ERR_PROTOCOL', `invalid message: ${what}`.slice(0, 300));
}
function obj(value: unknown, what: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw bad(`${what} must be a map`);
  return value as Obj;
}
function uint(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw bad(`${what} must be an integer >= ${min}`);
  return value;
}
function text(value: unknown, what: string, max: number, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length > max || (pattern && !pattern.test(value))) throw bad(`${what} is not a valid value`);
  return value;
}
function bytes(value: unknown, what: string, length?: number, max = Infinity): Uint8Array {
  if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length) || value.length > max) throw bad(`${what} must be ${length ?? 'up to ' + String(max)} bytes`);
  return value;
}
function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} must be an array`);
  if (value.length > max) throw bad(`${what} has more than ${max} items`);
  return value;
}

function invite(value: unknown): { id: string; mac: Uint8Array } {
  const v = obj(value, 'invite');
  return { id: text(v.id, 'invite.id', 64, /^[0-9a-f]{64}$/), mac: bytes(v.mac, 'invite.mac', 32) };
}

function clock(value: unknown, what = 'clock'): WireClock {
  return list(value, what, FIXED.maxClockEntries).map((item, i) => {
    const triple = list(item, `${what}.${i}`, 3);
    const seq = uint(triple[1], `${what}.${i}.seq`);
    const hash = bytes(triple[2], `${what}.${i}.hash`, seq === 0 ? 0 : CHAIN_HASH_BYTES);
    return [text(triple[0], `${what}.${i}.origin`, 63, NODE_ID), seq, hash];
  });
}

/** A holds report's [origin, seq] pairs, at most `maxClockEntries`. */
function heldSeqs(value: unknown, what: string): HeldSeqs {
  return list(value, what, FIXED.maxClockEntries).map((item, i) => {
    const pair = list(item, `${what}.${i}`, 2);
    return [text(pair[0], `${what}.${i}.origin`, 63, NODE_ID), uint(pair[1], `${what}.${i}.seq`)];
  });
}

/** A subscription: at most `maxHoldingNames` territories and owners, each a short non-empty string. */
function holdingFilter(value: unknown): HoldingFilter {
  const v = obj(value, 'holding');
  const names = (list: unknown, what: string) => list === undefined ? undefined : listOf(list, what).map((name, i) => text(name, `${what}.${i}`, MAX_HOLDING_NAME, /\S/));
  const territories = names(v.territories, 'holding.territories');
  const owners = names(v.owners, 'holding.owners');
  return { ...(territories ? { territories } : {}), ...(owners ? { owners } : {}) };
}
const listOf = (value: unknown, what: string) => list(value, what, FIXED.maxHoldingNames);

/** Validates a decoded value as a change entry; returns it or the reason it is malformed. */
export function entryFromValue(value: unknown): { entry: ChangeEntry } | { error: string } {
  try {
    return { entry: parseEntry(value, 'entry') };
  } catch (err) {
    return { error: (err as Error).message.replace(/^invalid message: /, '') };
  }
}

function parseEntry(value: unknown, what: string): ChangeEntry {
  const e = obj(value, what);
  const entry: ChangeEntry = {
    origin: text(e.o, `${what}.o`, 63, NODE_ID) as NodeId,
    seq: uint(e.s, `${what}.s`, 1),
    record: text(e.r, `${what}.r`, MAX_RECORD_ID_LENGTH, RECORD_ID) as RecordId,
    change: STUB_BODY,
  };
  // A stub carries its change's digest instead of the change (change-entry.ts): one or the other.
  if (e.h !== undefined) {
    if (e.c !== undefined) throw bad(`${what} has both a change and a stub digest`);
    entry.digest = Buffer.from(bytes(e.h, `${what}.h`, CHAIN_HASH_BYTES)).toString('hex');
  } else {
    entry.change = bytes(e.c, `${what}.c`);
  }
  if (e.g !== undefined) entry.sig = bytes(e.g, `${what}.g`, SIGNATURE_BYTES);
  if (e.p !== undefined) entry.prev = Buffer.from(bytes(e.p, `${what}.p`, CHAIN_HASH_BYTES)).toString('hex');
  const extra = Object.keys(e).filter((key) => !ENTRY_KEYS.has(key));
  if (extra.length > MAX_ENTRY_EXTENSIONS) throw bad(`${what} has too many unknown fields`);
  if (extra.length > 0) entry.ext = Object.fromEntries(extra.map((key) => [key, e[key]]));
  return entry;
}

/** One change entry as a plain value with the wire's short keys (also how backups store entries). */
export function entryToValue(entry: ChangeEntry): Record<string, unknown> {
  const value: Record<string, unknown> = { ...entry.ext, o: entry.origin, s: entry.seq, r: entry.record };
  if (entry.digest !== undefined) value.h = Buffer.from(entry.digest, 'hex');
  else value.c = entry.change;
  if (entry.sig) value.g = entry.sig;
  if (entry.prev !== undefined) value.p = Buffer.from(entry.prev, 'hex');
  return value;
}

/** The message kind of a compressed frame (frame-deflate.ts): never inside the Message union, unwrapped here. */
const DEFLATED = 'deflated';
/** Most frame encodings a hello may name. */
const MAX_FRAME_ENCODINGS = 8;
/** Most protocol features a hello may name. */
const MAX_FEATURES = 16;
/** Longest name of a frame encoding or protocol feature. */
const MAX_TOKEN_LENGTH = 32;

/** A hello's list of encoding or feature names: at most `max`, each a short string. */
function tokens(value: unknown, what: string, max: number): string[] {
  return list(value, what, max).map((name, i) => text(name, `${what}.${i}`, MAX_TOKEN_LENGTH));
}

/** Encodes a message as one frame. */
export function encodeMessage(msg: Message): Uint8Array {
  return packr.pack(msg.type === 'changes' ? { ...msg, entries: msg.entries.map(entryToValue) } : msg);
}

/** A frame of a message kind this version does not know (ignored by the versioning policy). */
export interface UnknownKind {
  unknown: string;
}

/**
 * Decodes and validates one frame; throws ERR_FRAME_TOO_LARGE or ERR_PROTOCOL, nothing
 * else. With `handshake`, only handshake messages are accepted (nothing else is parsed
 * before the handshake completed); with `unproven` (the peer has not proved its key
 * yet), the frame's structure gets the small handshake budget. `dictionary`: the
 * session's codec of dictionary frames (frame-dictionary.ts), once the peer is known;
 * without it a dictionary frame is refused.
 */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number, handshake = false, unproven = handshake, dictionary?: DictionaryZlib): Message | UnknownKind {
  return decodeFrame(frame, maxFrameBytes, handshake, unproven, dictionary, false);
}

/** decodeMessage; `inflated`: the frame came out of a compressed one (which may not nest). */
function decodeFrame(frame: Uint8Array, maxFrameBytes: number, handshake: boolean, unproven: boolean, dictionary: DictionaryZlib | undefined, inflated: boolean): Message | UnknownKind {
  if (frame.length > maxFrameBytes) {
    throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  if (frame[0] === DICTIONARY_FRAME_MARK) {
    // A small frame deflated from the session's dictionary (frame-deflate.ts).
    if (handshake) throw bad('a compressed frame before the handshake completed');
    if (inflated) throw bad('a compressed frame inside a compressed frame');
    if (!dictionary) throw bad('a dictionary frame, but this session has no dictionary');
    return decodeFrame(inflateWithDictionary(frame, dictionary, maxFrameBytes), maxFrameBytes, handshake, unproven, dictionary, true);
  }
  // Bounded by counting before anything is built (frame-scan.ts); a peer that proved
  // nothing yet gets only what a hello needs.
  scanFrame(frame, unproven ? HANDSHAKE_BUDGET : FRAME_BUDGET);
  let raw: unknown;
  try {
    raw = packr.unpack(frame);
  } catch (cause) {
    throw new CrmsyncError('ERR_PROTOCOL', 'frame is not valid MessagePack', { cause });
  }
  const m = obj(raw, 'frame');
  const type = text(m.type, 'type', 64);
  if (handshake && !(HANDSHAKE_TYPES as readonly string[]).includes(type)) throw bad(`${type} before the handshake completed`);
  if (type === DEFLATED) {
    // A compressed frame (frame-deflate.ts): the frame inside gets every check, once.
    if (inflated) throw bad('a compressed frame inside a compressed frame');
    return decodeFrame(inflateFrame(bytes(m.data, 'data'), maxFrameBytes), maxFrameBytes, handshake, unproven, dictionary, true);
  }
  if (!(MESSAGE_TYPES as readonly string[]).includes(type)) return { unknown: type };
  return parse(type as Message['type'], m);
}

/** A `deflated` message around the deflated bytes of an encoded frame (frame-deflate.ts). */
export function encodeDeflated(deflated: Uint8Array): Uint8Array {
  return packr.pack({ type: DEFLATED, data: deflated });
}

function parse(type: Message['type'], m: Obj): Message {
  switch (type) {
    case 'hello':
      // The version first: a peer of another version gets 4002, whatever else its hello holds.
      if (uint(m.protocol, 'protocol') !== PROTOCOL_VERSION) {
        throw new CrmsyncError('ERR_PROTOCOL_VERSION', `peer speaks protocol ${String(m.protocol)}, this node speaks ${PROTOCOL_VERSION}`);
      }
      return {
        type, protocol: uint(m.protocol, 'protocol'), cluster: text(m.cluster, 'cluster', 64), node: text(m.node, 'node', 63, NODE_ID),
        key: bytes(m.key, 'key', PUBLIC_KEY_BYTES), nonce: bytes(m.nonce, 'nonce', NONCE_BYTES), proof: list(m.proof ?? [], 'proof', FIXED.maxProofStatements),
        ...(m.invite === undefined ? {} : { invite: invite(m.invite) }),
        ...(m.compress === undefined ? {} : { compress: tokens(m.compress, 'compress', MAX_FRAME_ENCODINGS) }),
        ...(m.features === undefined ? {} : { features: tokens(m.features, 'features', MAX_FEATURES) }),
      };
    case 'auth':
      return { type, sig: bytes(m.sig, 'sig', SIGNATURE_BYTES) };
    case 'open':
      return {
        type, clock: clock(m.clock), trust: text(m.trust, 'trust', 64),
        ...(m.policies === undefined ? {} : { policies: text(m.policies, 'policies', 64) }),
        ...(m.holding === undefined ? {} : { holding: holdingFilter(m.holding) }),
        ...(m.window === undefined ? {} : { window: uint(m.window, 'window', 1) }),
      };
    case 'changes':
      return parseChanges(m);
    case 'ack':
      return { type, batch: uint(m.batch, 'batch'), clock: clock(m.clock) };
    case 'have':
      return { type, clock: clock(m.clock) };
    case 'resync':
      return { type, epoch: uint(m.epoch, 'epoch'), clock: clock(m.clock), ...(m.trust === undefined ? {} : { trust: text(m.trust, 'trust', 64) }) };
    case 'trust':
      return { type, statements: list(m.statements, 'statements', FIXED.maxStatementsPerMessage) };
    case 'error':
      return { type, code: text(m.code, 'code', 64), message: text(m.message, 'message', 1000) };
    case 'digest-request':
      return parseDigestRequest(m);
    case 'digest-response':
      return parseDigestResponse(m);
    case 'record':
      return { type, id: text(m.id, 'id', MAX_RECORD_ID_LENGTH, RECORD_ID), doc: bytes(m.doc, 'doc'), sig: bytes(m.sig, 'sig', SIGNATURE_BYTES) };
    case 'want':
    case 'outside':
      return { type, ids: list(m.ids, 'ids', FIXED.maxWantIds).map((id, i) => text(id, `ids.${i}`, MAX_RECORD_ID_LENGTH, RECORD_ID)) };
    case 'subscribe':
    case 'subscribed':
      return { type, ...(m.holding === undefined ? {} : { holding: holdingFilter(m.holding) }) };
    case 'holds':
      return parseHolds(m);
    case 'mark':
    case 'marked':
      return { type, n: uint(m.n, 'n', 1) };
    case 'base':
      return {
        type, floors: list(m.floors, 'floors', FIXED.maxClockEntries).map((item, i) => {
          const f = list(item, `floors.${i}`, 6);
          return [
            text(f[0], `floors.${i}.origin`, 63, NODE_ID), uint(f[1], `floors.${i}.seq`, 1), bytes(f[2], `floors.${i}.prev`, CHAIN_HASH_BYTES),
            text(f[3], `floors.${i}.record`, MAX_RECORD_ID_LENGTH, RECORD_ID), bytes(f[4], `floors.${i}.digest`, CHAIN_HASH_BYTES), bytes(f[5], `floors.${i}.sig`, SIGNATURE_BYTES),
          ];
        }),
      };
    default: {
      const unreachable: never = type;
      throw new TypeError(`unhandled message ${String(unreachable)}`);
    }
  }
}

function parseHolds(m: Obj): HoldsMessage {
  let entries = 0;
  const reports = list(m.reports, 'reports', FIXED.maxHoldsReports).map((item, i): HoldsReport => {
    const r = obj(item, `reports.${i}`);
    const report = {
      node: text(r.node, `reports.${i}.node`, 63, NODE_ID), at: uint(r.at, `reports.${i}.at`),
      clock: heldSeqs(r.clock, `reports.${i}.clock`), sig: bytes(r.sig, `reports.${i}.sig`, SIGNATURE_BYTES),
    };
    entries += report.clock.length;
    if (entries > FIXED.maxHoldsClockEntries) throw bad(`reports hold more than ${FIXED.maxHoldsClockEntries} clock entries together`);
    return report;
  });
  const known = m.known === undefined ? undefined : list(m.known, 'known', FIXED.maxHoldsKnown).map((item, i): [string, number] => {
    const pair = list(item, `known.${i}`, 2);
    return [text(pair[0], `known.${i}.node`, 63, NODE_ID), uint(pair[1], `known.${i}.at`)];
  });
  return { type: 'holds', reports, ...(known ? { known } : {}) };
}

const DIGEST_ASKS: ReadonlySet<string> = new Set<DigestAsk>(['groups', 'children', 'records', 'compare', 'repair']);

function territory(value: unknown, what: string): string | null {
  return value === null ? null : text(value, what, MAX_TERRITORY_LENGTH);
}

function digestHash(value: unknown, what: string, orEmpty = false): Uint8Array {
  return orEmpty && value instanceof Uint8Array && value.length === 0 ? value : bytes(value, what, DIGEST_HASH_BYTES);
}

function digestPaths(value: unknown, what: string): DigestPath[] {
  return list(value ?? [], what, FIXED.maxDigestPaths).map((item, i) => {
    const pair = list(item, `${what}.${i}`, 2);
    const prefix = text(pair[1], `${what}.${i}.prefix`, DIGEST_ID_NIBBLES);
    if (!isDigestPath(prefix)) throw bad(`${what}.${i}.prefix is not a digest path`);
    return [territory(pair[0], `${what}.${i}.territory`), prefix];
  });
}

function parseDigestRequest(m: Obj): DigestRequestMessage {
  const what = text(m.what, 'what', 16);
  if (!DIGEST_ASKS.has(what)) throw bad('what is not a digest request kind');
  const paths = digestPaths(m.paths, 'paths');
  const ids = list(m.ids ?? [], 'ids', FIXED.maxDigestIds).map((id, i) => text(id, `ids.${i}`, MAX_RECORD_ID_LENGTH, RECORD_ID));
  // Each kind names exactly what it needs: a request cannot make us do two things at once.
  const needsPaths = what === 'children' || what === 'records';
  if (needsPaths !== paths.length > 0 || (what === 'repair' || what === 'compare') !== ids.length > 0) throw bad(`${what} request with the wrong fields`);
  if (what === 'children' && paths.some(([, prefix]) => prefix.length >= DIGEST_ID_NIBBLES)) throw bad('children of a deepest digest path');
  return { type: 'digest-request', req: uint(m.req, 'req'), what: what as DigestAsk, paths, ids, ...(m.clock === undefined ? {} : { clock: clock(m.clock) }) };
}

function parseDigestResponse(m: Obj): DigestResponseMessage {
  const out: DigestResponseMessage = { type: 'digest-response', req: uint(m.req, 'req') };
  if (m.refused !== undefined) out.refused = text(m.refused, 'refused', 32);
  if (m.clock !== undefined) out.clock = clock(m.clock);
  if (m.groups !== undefined) {
    out.groups = list(m.groups, 'groups', FIXED.maxDigestGroups).map((item, i) => {
      const g = list(item, `groups.${i}`, 3);
      return [territory(g[0], `groups.${i}.territory`), uint(g[1], `groups.${i}.count`), digestHash(g[2], `groups.${i}.hash`)];
    });
  }
  if (m.children !== undefined) {
    out.children = list(m.children, 'children', FIXED.maxDigestPaths).map((item, i) => {
      const children = list(item, `children.${i}`, DIGEST_FANOUT);
      if (children.length !== DIGEST_FANOUT) throw bad(`children.${i} must have ${DIGEST_FANOUT} items`);
      return children.map((child, j) => {
        const c = list(child, `children.${i}.${j}`, 2);
        return [uint(c[0], `children.${i}.${j}.count`), digestHash(c[1], `children.${i}.${j}.hash`)] as [number, Uint8Array];
      });
    });
  }
  if (m.records !== undefined) {
    // A listing holds at most maxDigestLeafRecords; a compare answer one entry per asked id.
    const most = Math.max(FIXED.maxDigestLeafRecords, FIXED.maxDigestIds);
    out.records = list(m.records, 'records', FIXED.maxDigestPaths).map((item, i) => item === null ? null : list(item, `records.${i}`, most).map((pair, j) => {
      const r = list(pair, `records.${i}.${j}`, 2);
      return [text(r[0], `records.${i}.${j}.id`, MAX_RECORD_ID_LENGTH, RECORD_ID), digestHash(r[1], `records.${i}.${j}.hash`, true)] as [string, Uint8Array];
    }));
  }
  if (m.repaired !== undefined) out.repaired = uint(m.repaired, 'repaired');
  return out;
}

function parseChanges(m: Obj): ChangesMessage {
  // The count is checked before any entry is looked at: a frame of 100,000 empty maps costs nothing.
  const values = list(m.entries, 'entries', FIXED.maxEntriesPerFrame);
  const entries = new Array<ChangeEntry>(values.length);
  for (let i = 0; i < values.length; i++) entries[i] = parseEntry(values[i], `entries.${i}`);
  return { type: 'changes', epoch: uint(m.epoch, 'epoch'), batch: uint(m.batch, 'batch'), entries };
}
