/**
 * How one change-log entry is stored inside a backup block: plain MessagePack (no
 * msgpackr record extension; maps decode as plain objects) with short keys, and a zod
 * schema that every decoded entry passes before it reaches the node. A backup file is
 * untrusted input exactly like a peer's frame: hashes catch accidents, the schema
 * catches a well-formed file with nonsense inside.
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { CrmsyncError, parseNodeId, parseRecordId, type ChangeEntry, type RecordView, type StoredEntry } from '../index.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

const nodeId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
const recordId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/);
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
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

/** The stored shape: short keys, as on the sync wire. */
const storedEntry = z.object({
  o: nodeId, s: seq, p: z.string().regex(/^([0-9a-f]{16})?$/), r: recordId,
  c: z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes'),
  t: z.number(), f: z.array(z.string().max(300)).max(10_000), v: view,
  a: z.string().max(200).optional(),
  /** localSeq in the backed-up node's log (order check only; not imported). */
  l: seq,
});

/** Encodes one log entry for a backup block. */
export function encodeEntry(entry: StoredEntry): Uint8Array {
  const stored: Record<string, unknown> = {
    o: entry.origin, s: entry.seq, p: entry.prev, r: entry.record, c: entry.change, t: entry.time, f: entry.fields, v: entry.view, l: entry.localSeq,
  };
  if (entry.author !== undefined) stored.a = entry.author;
  return packr.pack(stored);
}

/** A decoded backup entry: what importEntries takes, plus its position in the source log. */
export interface BackupEntry {
  entry: ChangeEntry;
  localSeq: number;
}

/** Decodes the concatenated entries of one block payload; ERR_CORRUPT on anything malformed. */
export function decodeEntries(payload: Uint8Array, blockIndex: number): BackupEntry[] {
  let values: unknown[];
  try {
    values = packr.unpackMultiple(payload) as unknown[];
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', `backup block ${blockIndex}: entries are not valid MessagePack`, { cause });
  }
  return values.map((value, i) => {
    const parsed = storedEntry.safeParse(value);
    if (!parsed.success || parsed.data.v.id !== parsed.data.r) {
      const why = parsed.success ? 'view belongs to another record' : parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ');
      throw new CrmsyncError('ERR_CORRUPT', `backup block ${blockIndex}, entry ${i}: malformed entry (${why.slice(0, 300)})`);
    }
    const d = parsed.data;
    const entry: ChangeEntry = {
      origin: parseNodeId(d.o), seq: d.s, prev: d.p, record: parseRecordId(d.r), change: d.c, time: d.t, fields: d.f,
      view: d.v as unknown as RecordView, ...(d.a === undefined ? {} : { author: d.a }),
    };
    return { entry, localSeq: d.l };
  });
}

/** Encodes the header value (see docs/backup-format.md). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes a header value. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
