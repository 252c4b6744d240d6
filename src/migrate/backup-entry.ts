/**
 * How one change-log entry is stored inside a backup block: plain MessagePack (no
 * msgpackr record extension; maps decode as plain objects) with the sync wire's short
 * keys, validated by the same schema as a peer's entries before it reaches the node. A backup file is
 * untrusted input exactly like a peer's frame: hashes catch accidents, the schema
 * catches a well-formed file with nonsense inside.
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { CrmsyncError, entryFromValue, entryToValue, type ChangeEntry, type StoredEntry } from '../index.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

/** Position of the entry in the backed-up node's log (order check only; not imported). */
const localSeq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Encodes one log entry for a backup block. */
export function encodeEntry(entry: StoredEntry): Uint8Array {
  return packr.pack({ ...entryToValue(entry), l: entry.localSeq });
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
    const { l, ...rest } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const position = localSeq.safeParse(l);
    const parsed = entryFromValue(rest);
    if ('error' in parsed || !position.success) {
      const why = 'error' in parsed ? parsed.error : 'missing or invalid log position';
      throw new CrmsyncError('ERR_CORRUPT', `backup block ${blockIndex}, entry ${i}: malformed entry (${why.slice(0, 300)})`);
    }
    return { entry: parsed.entry, localSeq: position.data };
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
