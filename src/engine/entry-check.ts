/**
 * The first gate of ingest: a frame's entries are grouped into runs per origin, and each
 * run must come from a member allowed to write, extend the held history contiguously,
 * and end with the origin's signature over the chain hash that the receiver computes
 * itself. Nothing of a run is accepted before all of this holds, and a run that
 * contradicts a signed history we hold is a fork, reported with its evidence.
 */
import { createHash } from 'node:crypto';
import type { ChangeEntry } from '../crdt/change-entry.js';
import { chainNext, chainStart, entrySigningInput, type OriginClock } from '../crdt/origin-clock.js';
import { CrmsyncError } from '../errors.js';
import type { SignatureVerifier } from '../trust/keys.js';

/** Why an origin may not write (see OriginAuthority). */
export type WriterRefusal = 'unknown' | 'revoked' | 'read-only';

/** What the engine needs to know about origins: the trust list, seen from ingest. */
export interface OriginAuthority {
  readonly cluster: string;
  readonly verifier: SignatureVerifier;
  /** The public key of an origin allowed to write, or why it is not. */
  writer(origin: string): { key: Uint8Array } | { refused: WriterRefusal };
}

/** A verified run: the entries of one origin the node does not hold yet, with their chain hashes. */
export interface CheckedRun {
  origin: string;
  fresh: ChangeEntry[];
  chains: string[];
}

/** The result of checking a frame. */
export type FrameCheck = { gap: true } | { gap: false; runs: CheckedRun[] };

/** Evidence that an origin signed two different histories. */
export interface ForkEvidence {
  origin: string;
  seq: number;
  held: string;
  received: string;
}

function chainFrom(base: string, run: readonly ChangeEntry[]): string[] {
  const chains: string[] = [];
  let chain = base;
  for (const entry of run) {
    chain = chainNext(chain, entry, changeDigest(entry.change));
    chains.push(chain);
  }
  return chains;
}

function forked(evidence: ForkEvidence): CrmsyncError {
  return Object.assign(
    new CrmsyncError('ERR_ORIGIN_FORKED', `origin "${evidence.origin}" signed two different histories (they part at seq ${evidence.seq}); was its data directory copied? give one copy a new node id`),
    { evidence },
  );
}

/** The hash a chain step binds for a change: SHA-256 of its bytes (defined for any bytes). */
export function changeDigest(change: Uint8Array): string {
  return createHash('sha256').update(change).digest('hex');
}

/**
 * Checks every origin run of a frame (see the file comment). `chainAt` reads the stored
 * chain hash of an entry held before the head (only needed when a run starts at or
 * below what we hold). Throws ERR_UNAUTHORIZED, ERR_PROTOCOL, ERR_SIGNATURE or
 * ERR_ORIGIN_FORKED (with `evidence` on the error); returns `{ gap: true }` when a run
 * starts beyond what we hold.
 */
export async function checkFrame(
  entries: readonly ChangeEntry[],
  heads: OriginClock,
  authority: OriginAuthority,
  chainAt: (origin: string, seq: number) => Promise<string | undefined>,
): Promise<FrameCheck> {
  const runs = new Map<string, ChangeEntry[]>();
  for (const entry of entries) {
    const run = runs.get(entry.origin);
    if (run) run.push(entry);
    else runs.set(entry.origin, [entry]);
  }
  const checked: CheckedRun[] = [];
  for (const [origin, run] of runs) {
    const writer = authority.writer(origin);
    if ('refused' in writer) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', `entries of origin "${origin}" refused: the origin is ${writer.refused === 'unknown' ? 'not on the trust list' : writer.refused}`);
    }
    for (let i = 1; i < run.length; i++) {
      if (run[i]!.seq !== run[i - 1]!.seq + 1) throw new CrmsyncError('ERR_PROTOCOL', `entries of origin "${origin}" are not contiguous`);
    }
    const last = run[run.length - 1]!;
    if (!last.sig) throw new CrmsyncError('ERR_PROTOCOL', `the last entry of origin "${origin}" in a frame must carry the origin's signature`);
    const head = heads.get(origin);
    const held = head?.seq ?? 0;
    const first = run[0]!.seq;
    if (first > held + 1) return { gap: true };
    const ours = first === held + 1 && head ? head.hash : first === 1 ? chainStart(authority.cluster, origin) : await chainAt(origin, first - 1);
    if (ours === undefined) throw new CrmsyncError('ERR_STORAGE', `the chain hash of ${origin}/${first - 1} is missing from the origin index`);
    const chains = chainFrom(ours, run);
    if (!authority.verifier.verify(writer.key, entrySigningInput(chains[chains.length - 1]!), last.sig)) {
      // Not an extension of our history. If it extends the sender's stated one (`prev`),
      // the origin's key signed two histories: a fork, with the evidence. Otherwise the
      // frame was altered or forged.
      const theirs = run[0]!.prev;
      if (theirs !== undefined && theirs !== ours && authority.verifier.verify(writer.key, entrySigningInput(chainFrom(theirs, run).at(-1)!), last.sig)) {
        throw forked({ origin, seq: first - 1, held: ours, received: theirs });
      }
      throw new CrmsyncError('ERR_SIGNATURE', `entries of origin "${origin}" up to seq ${last.seq} are not signed by that origin's key (altered or forged)`);
    }
    // The run is the origin's own signed history. Where it overlaps what we hold, it must agree.
    if (first <= held) {
      const at = Math.min(held, last.seq);
      const stored = at === held && head ? head.hash : await chainAt(origin, at);
      const received = chains[at - first]!;
      if (stored !== received) throw forked({ origin, seq: at, held: stored ?? '', received });
    }
    const skip = Math.max(0, held - first + 1);
    checked.push({ origin, fresh: run.slice(skip), chains: chains.slice(skip) });
  }
  return { gap: false, runs: checked };
}
