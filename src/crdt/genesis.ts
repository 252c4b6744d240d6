/**
 * Every record document starts from the same genesis change: the empty skeleton of a
 * record (address, tags, custom maps, notes text, interaction counter, deleted flag),
 * written by a fixed actor at time 0. Because its bytes are identical on every node,
 * two nodes that create the same record id independently (an import run on two
 * nodes, say) share the nested objects, and their edits merge field by field instead
 * of one whole `address` map replacing the other.
 *
 * These bytes are part of the protocol: changing them forks every record. A unit test
 * checks that they load and that their heads are GENESIS_HEADS.
 */

/** The saved genesis document. */
export const GENESIS_BYTES: Uint8Array = new Uint8Array(
  Buffer.from(
    'hW9Kg3/I1+QAnwEBAQAB7VSIoyHaRuKClh+D0aJN+uDQGIvO0CAUbbqLmTcWL5AHAQIDAhMCIwI1AkACVgIIFTAhAiMHNAFCB1YHVwGAAQJ/AH8BfwZ/AH8AfwB/B3oHYWRkcmVzcwZjdXN0b20HZGVsZXRlZAxpbnRlcmFjdGlvbnMFbm90ZXMEdGFncwYAegEDAn9+fwYCAAIBfgQAAgB+ARgCAAAGAAA=',
    'base64',
  ),
);

/** Hex hash of the genesis change: the heads of a record nobody has written yet. */
export const GENESIS_HASH = 'ed5488a321da46e282961f83d1a24dfae0d0188bced020146dba8b9937162f90';
