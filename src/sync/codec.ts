/**
 * The only place where bytes become a Message. Plain MessagePack (msgpackr without its
 * record extension) with short keys for change entries; everything is validated before
 * the rest of the node sees it, so a peer can never feed it a malformed value.
 *
 * Versioning policy (PROTOCOL.md, "Versions"): a frame of a message kind this version
 * does not know is reported as `{ unknown }` and ignored by the session; unknown keys
 * of known messages are ignored; unknown keys of change entries and of their views are
 * kept and relayed unchanged, so a node never drops what a newer node wrote.
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';
import type { ChangeEntry } from '../crdt/change-entry.js';
import { recordViewSchema, type RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import type { NodeId, RecordId } from '../types.js';
import { MESSAGE_TYPES, type Message } from './messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

/** Most unknown keys an entry may carry (they are stored and relayed). */
const MAX_ENTRY_EXTENSIONS = 16;

const nodeId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
const recordId = recordViewSchema.shape.id;
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const hashPrefix = z.string().regex(/^([0-9a-f]{16})?$/);
const clock = z.array(z.tuple([nodeId, seq, hashPrefix])).max(FIXED.maxClockEntries);

/** The record view on the wire: the record schema's view, keeping fields this version does not know. */
const view = recordViewSchema.extend({ address: recordViewSchema.shape.address.loose() }).loose();

const ENTRY_KEYS = new Set(['o', 's', 'p', 'r', 'c', 't', 'f', 'v', 'a']);
const wireEntry = z.object({
  o: nodeId, s: seq.min(1), p: hashPrefix, r: recordId,
  c: z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes'), t: z.number(), f: z.array(z.string().max(300)).max(10_000), v: view,
  a: z.string().max(200).optional(),
}).catchall(z.unknown());

const messages = {
  hello: z.object({ type: z.literal('hello'), protocol: z.number().int(), node: nodeId, clock }),
  // Entries are checked one by one after the envelope (see parseEntries).
  changes: z.object({ type: z.literal('changes'), epoch: seq, batch: seq, entries: z.array(z.unknown()).max(FIXED.maxEntriesPerFrame) }),
  ack: z.object({ type: z.literal('ack'), batch: seq, clock }),
  have: z.object({ type: z.literal('have'), clock }),
  resync: z.object({ type: z.literal('resync'), epoch: seq, clock }),
  error: z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(1000) }),
} satisfies Record<Message['type'], z.ZodType>;

type WireEntry = z.output<typeof wireEntry>;

function toWire(entry: ChangeEntry): Record<string, unknown> {
  const wire: Record<string, unknown> = { ...entry.ext, o: entry.origin, s: entry.seq, p: entry.prev, r: entry.record, c: entry.change, t: entry.time, f: entry.fields, v: entry.view };
  if (entry.author !== undefined) wire.a = entry.author;
  return wire;
}

function fromWire(e: WireEntry): ChangeEntry {
  const entry: ChangeEntry = {
    origin: e.o as NodeId, seq: e.s, prev: e.p, record: e.r as RecordId,
    change: e.c, time: e.t, fields: e.f, view: e.v as RecordView, ...(e.a === undefined ? {} : { author: e.a }),
  };
  const extra = Object.keys(e).filter((key) => !ENTRY_KEYS.has(key));
  if (extra.length > 0) entry.ext = Object.fromEntries(extra.map((key) => [key, e[key]]));
  return entry;
}

/**
 * One change entry as a plain value with the wire's short keys (also how backups store
 * entries), ready for MessagePack.
 */
export function entryToValue(entry: ChangeEntry): Record<string, unknown> {
  return toWire(entry);
}

/**
 * Validates a decoded value as a change entry (the same rules a peer's entries pass).
 * Returns the entry, or the reason it is malformed.
 */
export function entryFromValue(value: unknown): { entry: ChangeEntry } | { error: string } {
  const parsed = wireEntry.safeParse(value);
  if (!parsed.success) return { error: parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ') };
  if (parsed.data.v.id !== parsed.data.r) return { error: 'view belongs to another record' };
  if (Object.keys(parsed.data).length - ENTRY_KEYS.size > MAX_ENTRY_EXTENSIONS) return { error: 'too many unknown entry fields' };
  return { entry: fromWire(parsed.data) };
}

/** Encodes a message as one frame. */
export function encodeMessage(msg: Message): Uint8Array {
  return packr.pack(msg.type === 'changes' ? { ...msg, entries: msg.entries.map(toWire) } : msg);
}

/** A frame of a message kind this version does not know (ignored by the versioning policy). */
export interface UnknownKind {
  unknown: string;
}

/** Decodes and validates one frame; throws ERR_FRAME_TOO_LARGE or ERR_PROTOCOL, nothing else. */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number): Message | UnknownKind {
  if (frame.length > maxFrameBytes) {
    throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(frame);
  } catch (cause) {
    throw new CrmsyncError('ERR_PROTOCOL', 'frame is not valid MessagePack', { cause });
  }
  const type = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || type.length === 0 || type.length > 64) throw new CrmsyncError('ERR_PROTOCOL', 'invalid message: type must be a short string');
  if (!(MESSAGE_TYPES as readonly string[]).includes(type)) return { unknown: type };
  const parsed = messages[type as Message['type']].safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error, '');
  const msg = parsed.data;
  return msg.type === 'changes' ? { ...msg, entries: parseEntries(msg.entries) } : (msg as Message);
}

/** Validates entries one by one and stops at the first bad one (a bad frame costs little). */
function parseEntries(values: unknown[]): ChangeEntry[] {
  const entries: ChangeEntry[] = [];
  for (let i = 0; i < values.length; i++) {
    const parsed = entryFromValue(values[i]);
    if ('error' in parsed) throw new CrmsyncError('ERR_PROTOCOL', `invalid message: entries.${i}: ${parsed.error}`.slice(0, 300));
    entries.push(parsed.entry);
  }
  return entries;
}

function invalid(error: z.ZodError, prefix: string): CrmsyncError {
  const issue = error.issues[0];
  return new CrmsyncError('ERR_PROTOCOL', `invalid message: ${prefix}${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
}
