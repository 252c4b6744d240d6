/**
 * The only place where bytes become a Message. Plain MessagePack (msgpackr without its
 * record extension) with short keys for change entries; everything is validated with
 * zod before the rest of the node sees it, so a peer can never feed it a malformed value.
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { CrmsyncError } from '../errors.js';
import type { ChangeEntry } from '../crdt/change-entry.js';
import type { RecordView } from '../crdt/record-schema.js';
import type { NodeId, RecordId } from '../types.js';
import type { Message, WireClock } from './messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

const nodeId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
const recordId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const hashPrefix = z.string().regex(/^([0-9a-f]{16})?$/);
const clock = z.array(z.tuple([nodeId, seq, hashPrefix])).max(100_000);
const optionalText = z.string().max(100_000).optional();

const view = z.object({
  id: recordId,
  name: z.string().max(1000),
  email: optionalText, phone: optionalText, company: optionalText, title: optionalText,
  owner: optionalText, territory: optionalText, stage: optionalText,
  address: z.record(z.string().max(32), z.string().max(1000)),
  tags: z.array(z.string().max(200)).max(10_000),
  notes: z.string().max(1_000_000),
  interactions: z.number(),
  custom: z.record(z.string().max(200), z.union([z.string().max(100_000), z.number(), z.boolean()])),
  createdAt: z.number(),
  updatedAt: z.number(),
  deleted: z.boolean(),
  deletedAt: z.number().optional(),
  conflicts: z.array(z.string().max(300)).max(10_000),
});

const wireEntry = z.object({
  o: nodeId, s: seq.min(1), p: hashPrefix, r: recordId,
  c: z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes'), t: z.number(), f: z.array(z.string().max(300)).max(10_000), v: view,
  a: z.string().max(200).optional(),
});

const message = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), protocol: z.number().int(), node: nodeId, clock }),
  z.object({ type: z.literal('changes'), epoch: seq, batch: seq, entries: z.array(wireEntry).max(100_000) }),
  z.object({ type: z.literal('ack'), batch: seq, clock }),
  z.object({ type: z.literal('have'), clock }),
  z.object({ type: z.literal('resync'), epoch: seq, clock }),
  z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(1000) }),
]);

type WireEntry = Omit<z.output<typeof wireEntry>, 'c' | 'v'> & { c: Uint8Array; v: unknown };

function toWire(entry: ChangeEntry): WireEntry {
  const wire: WireEntry = { o: entry.origin, s: entry.seq, p: entry.prev, r: entry.record, c: entry.change, t: entry.time, f: entry.fields, v: entry.view };
  if (entry.author !== undefined) wire.a = entry.author;
  return wire;
}

function fromWire(e: WireEntry): ChangeEntry {
  return {
    origin: e.o as NodeId, seq: e.s, prev: e.p, record: e.r as RecordId,
    change: e.c, time: e.t, fields: e.f, view: e.v as RecordView, ...(e.a === undefined ? {} : { author: e.a }),
  };
}

/**
 * One change entry as a plain value with the wire's short keys (also how backups store
 * entries), ready for MessagePack.
 */
export function entryToValue(entry: ChangeEntry): Record<string, unknown> {
  return toWire(entry);
}

/**
 * Validates a decoded value as a change entry (the same schema a peer's entries pass).
 * Returns the entry, or the reason it is malformed.
 */
export function entryFromValue(value: unknown): { entry: ChangeEntry } | { error: string } {
  const parsed = wireEntry.safeParse(value);
  if (!parsed.success) return { error: parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ') };
  if (parsed.data.v.id !== parsed.data.r) return { error: 'view belongs to another record' };
  return { entry: fromWire(parsed.data as WireEntry) };
}

/** Encodes a message as one frame. */
export function encodeMessage(msg: Message): Uint8Array {
  return packr.pack(msg.type === 'changes' ? { ...msg, entries: msg.entries.map(toWire) } : msg);
}

/** Decodes and validates one frame; throws ERR_FRAME_TOO_LARGE or ERR_PROTOCOL, nothing else. */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number): Message {
  if (frame.length > maxFrameBytes) {
    throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(frame);
  } catch (cause) {
    throw new CrmsyncError('ERR_PROTOCOL', 'frame is not valid MessagePack', { cause });
  }
  const parsed = message.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CrmsyncError('ERR_PROTOCOL', `invalid message: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const msg = parsed.data;
  return msg.type === 'changes' ? { ...msg, entries: msg.entries.map(fromWire) } : (msg as Message);
}

/** Clock map -> wire form, sorted by origin. */
export function toWireClock(clock: ReadonlyMap<string, { seq: number; hash: string }>, only?: Iterable<string>): WireClock {
  const origins = only ? [...new Set(only)] : [...clock.keys()];
  return origins
    .sort()
    .flatMap((origin): WireClock => {
      const head = clock.get(origin);
      return head ? [[origin, head.seq, head.hash]] : [];
    });
}
