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
import { CHAIN_HASH_BYTES, type WireClock } from '../crdt/origin-clock.js';
import { MAX_RECORD_ID_LENGTH } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../trust/keys.js';
import type { NodeId, RecordId } from '../types.js';
import { scanFrame, type FrameBudget } from './frame-scan.js';
import { HANDSHAKE_TYPES, MESSAGE_TYPES, PROTOCOL_VERSION, type ChangesMessage, type Message } from './messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

const NODE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const ENTRY_KEYS = new Set(['o', 's', 'r', 'c', 'g', 'p', 'h']);
/** Most unknown keys an entry may carry (they are stored and relayed). */
const MAX_ENTRY_EXTENSIONS = 16;
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
    change: bytes(e.c, `${what}.c`),
  };
  if (e.g !== undefined) entry.sig = bytes(e.g, `${what}.g`, SIGNATURE_BYTES);
  if (e.p !== undefined) entry.prev = Buffer.from(bytes(e.p, `${what}.p`, CHAIN_HASH_BYTES)).toString('hex');
  if (e.h !== undefined) {
    entry.hash = bytes(e.h, `${what}.h`, CHAIN_HASH_BYTES);
    if (entry.change.length !== 0) throw bad(`${what} is a stub (h) but carries a change body`);
  }
  const extra = Object.keys(e).filter((key) => !ENTRY_KEYS.has(key));
  if (extra.length > MAX_ENTRY_EXTENSIONS) throw bad(`${what} has too many unknown fields`);
  if (extra.length > 0) entry.ext = Object.fromEntries(extra.map((key) => [key, e[key]]));
  return entry;
}

/** One change entry as a plain value with the wire's short keys (also how backups store entries). */
export function entryToValue(entry: ChangeEntry): Record<string, unknown> {
  const value: Record<string, unknown> = { ...entry.ext, o: entry.origin, s: entry.seq, r: entry.record, c: entry.change };
  if (entry.sig) value.g = entry.sig;
  if (entry.prev !== undefined) value.p = Buffer.from(entry.prev, 'hex');
  if (entry.hash) value.h = entry.hash;
  return value;
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
 * yet), the frame's structure gets the small handshake budget.
 */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number, handshake = false, unproven = handshake): Message | UnknownKind {
  if (frame.length > maxFrameBytes) {
    throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
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
  if (!(MESSAGE_TYPES as readonly string[]).includes(type)) return { unknown: type };
  return parse(type as Message['type'], m);
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
      };
    case 'auth':
      return { type, sig: bytes(m.sig, 'sig', SIGNATURE_BYTES) };
    case 'open':
      return { type, clock: clock(m.clock), trust: text(m.trust, 'trust', 64) };
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
    default: {
      const unreachable: never = type;
      throw new TypeError(`unhandled message ${String(unreachable)}`);
    }
  }
}

function parseChanges(m: Obj): ChangesMessage {
  // The count is checked before any entry is looked at: a frame of 100,000 empty maps costs nothing.
  const values = list(m.entries, 'entries', FIXED.maxEntriesPerFrame);
  const entries = new Array<ChangeEntry>(values.length);
  for (let i = 0; i < values.length; i++) entries[i] = parseEntry(values[i], `entries.${i}`);
  return { type: 'changes', epoch: uint(m.epoch, 'epoch'), batch: uint(m.batch, 'batch'), entries };
}
