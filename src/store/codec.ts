/**
 * Value encoding for the store: plain MessagePack (no msgpackr record extension, maps
 * decode as plain objects), so stored bytes are readable by any MessagePack decoder.
 */
import { Packr } from 'msgpackr';

/** Creates the packer used for stored values. */
export function createValueCodec(): { pack(value: unknown): Uint8Array; unpack<T>(bytes: Uint8Array): T } {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
  return {
    pack: (value) => packr.pack(value),
    unpack: <T>(bytes: Uint8Array) => packr.unpack(bytes) as T,
  };
}
