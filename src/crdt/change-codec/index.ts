/**
 * A fast, strict codec for Automerge 3 change chunks, without Automerge: `decodeChange`
 * verifies and decodes a peer's change (ERR_PROTOCOL for anything malformed),
 * `encodeChange` builds the canonical chunk Automerge itself would write.
 */
export { decodeChange } from './decode.js';
export { encodeChange, encodeHashedChange } from './encode.js';
export { codePointLength } from './encode-input.js';
export { toAutomergeShape } from './automerge-shape.js';
export { MAX_CHANGE_OPS, MAX_INFLATED_CHANGE_BYTES, NO_PREDS } from './types.js';
export type { ChangeInput, ChangeOp, Datatype, DecodedChange, DecodeOptions, OpAction, ScalarValue } from './types.js';
