/**
 * The first gate of ingest: a frame's entries are grouped into runs per origin, and each
 * run must come from an origin the trust list knows, extend the held history
 * contiguously, and be authenticated: by the origin's signature over the chain hash the
 * receiver computes itself, or (for a revoked origin) by the chain hash its revocation
 * pinned. Nothing of a run is accepted before all of this holds, and a run that
 * contradicts a signed history we hold is a fork, reported with its evidence.
 */
import { changeDigest, entryDigest, type ChangeEntry } from '../crdt/change-entry.js';
import { chainNext, chainStart, entrySigningInput, type OriginClock } from '../crdt/origin-clock.js';
import type { HoldingFilter } from '../crdt/holding.js';
import { CrmsyncError } from '../errors.js';
import type { SignatureVerifier } from '../trust/keys.js';

/** The key an origin's entries are checked with, and how far they are accepted. */
export interface OriginWriter {
  key: Uint8Array;
  /** Entries beyond this sequence number are ignored (a revoked or read-only origin). */
  upTo: number;
  /** The chain hash at `upTo`, when a revocation pinned it. */
  upToChain?: string;
  /** The records the origin may write (its trust-list scope); absent: any. Changes outside it are quarantined. */
  scope?: HoldingFilter;
}

/** What the engine needs to know about origins: the trust list, seen from ingest. */
export interface OriginAuthority {
  readonly cluster: string;
  readonly verifier: SignatureVerifier;
  /** How an origin's entries are checked; undefined for an origin the trust list does not know (yet). */
  writer(origin: string): OriginWriter | undefined;
}

/** A verified run: the entries of one origin the node does not hold yet, with their chain hashes. */
export interface CheckedRun {
  origin: string;
  fresh: ChangeEntry[];
  chains: string[];
}

/**
 * The result of checking a frame: the runs to take; or a gap (a run starts beyond what we
 * hold) or origins the trust list does not know yet; either way nothing is taken and the
 * sender is asked to resend (after our trust statements, for the unknown origins).
 */
export type FrameCheck = { runs: CheckedRun[]; forks: ForkEvidence[] } | { gap: true } | { untrusted: string[] };

/**
 * Who sent the frame and which origins were found to sign two histories. A third origin's
 * fork is set aside rather than fatal: one member signing two histories to two nodes
 * must not cut those honest nodes off from each other for good (only its own, proven,
 * further entries are refused). The sender's own fork, or one of our own origin, still
 * fails the frame (ERR_ORIGIN_FORKED: a copied data directory, or a lying peer).
 */
export interface FrameContext {
  sender: string;
  self: string;
  /** Origins set aside at the sequence number we held when their fork was proven. */
  setAside: ReadonlyMap<string, number>;
  /**
   * Per origin, how far we hold no entries (truncated, or skipped by a bootstrap:
   * engine/truncate.ts). A run's entries up to it are ones we already count as held,
   * and the chain is checked from the floor's hash.
   */
  floors?: ReadonlyMap<string, { seq: number }>;
}

/** Evidence that an origin signed two different histories. */
export interface ForkEvidence {
  origin: string;
  seq: number;
  held: string;
  received: string;
}

/** The hash a chain step binds for a change (defined in change-entry.ts; re-exported for the engine). */
export { changeDigest };

/**
 * Checks every origin run of a frame (see the file comment). `chainAt` reads the stored
 * chain hash of an entry held before the head (only needed when a run starts at or
 * below what we hold). Throws ERR_PROTOCOL, ERR_SIGNATURE or ERR_ORIGIN_FORKED (with
 * `evidence` on the error).
 */
export async function checkFrame(
  entries: readonly ChangeEntry[],
  heads: OriginClock,
  authority: OriginAuthority,
  chainAt: (origin: string, seq: number) => Promise<string | undefined>,
  context?: FrameContext,
): Promise<FrameCheck> {
  const runs = new Map<string, ChangeEntry[]>();
  for (const entry of entries) {
    const run = runs.get(entry.origin);
    if (run) run.push(entry);
    else runs.set(entry.origin, [entry]);
  }
  const untrusted = [...runs.keys()].filter((origin) => authority.writer(origin) === undefined);
  if (untrusted.length > 0) return { untrusted };
  const checked: CheckedRun[] = [];
  const forks: ForkEvidence[] = [];
  // A fork of a third origin sets that origin aside; the sender's or our own fails the frame.
  const fork = (evidence: ForkEvidence): void => {
    if (!context || evidence.origin === context.sender || evidence.origin === context.self) throw forked(evidence);
    forks.push(evidence);
  };
  for (const [origin, all] of runs) {
    for (let i = 1; i < all.length; i++) {
      if (all[i]!.seq !== all[i - 1]!.seq + 1) throw new CrmsyncError('ERR_PROTOCOL', `entries of origin "${origin}" are not contiguous`);
    }
    const writer = authority.writer(origin)!;
    // Entries a revocation (or a read-only role) put beyond reach are ignored, wherever they come from.
    const limit = Math.min(writer.upTo, context?.setAside.get(origin) ?? Number.MAX_SAFE_INTEGER);
    const floor = context?.floors?.get(origin)?.seq ?? 0;
    const run = all.filter((e) => e.seq <= limit && e.seq > floor);
    if (run.length === 0) continue;
    const trimmed = run.length < all.length && all[0]!.seq <= floor;
    const head = heads.get(origin);
    const held = head?.seq ?? 0;
    const first = run[0]!.seq;
    if (first > held + 1) return { gap: true };
    const ours = first === held + 1 && head ? head.hash : first === 1 ? chainStart(authority.cluster, origin) : await chainAt(origin, first - 1);
    if (ours === undefined) throw new CrmsyncError('ERR_STORAGE', `the chain hash of ${origin}/${first - 1} is missing from the origin index`);
    const chains = chainFrom(ours, run);
    const verdict = authenticate(origin, run, chains, writer, authority.verifier);
    if (verdict === 'unverifiable') continue; // cut short by a revocation at an unsigned entry: wait for the rest
    if (verdict === 'bad') {
      // Not an extension of our history. If it extends the sender's stated one (`prev`),
      // the origin's key signed two histories: a fork, with the evidence. Otherwise the
      // frame was altered or forged.
      const theirs = trimmed ? undefined : run[0]!.prev;
      if (theirs !== undefined && theirs !== ours && authenticate(origin, run, chainFrom(theirs, run), writer, authority.verifier) === 'ok') {
        fork({ origin, seq: first - 1, held: ours, received: theirs });
        continue;
      }
      throw new CrmsyncError('ERR_SIGNATURE', `entries of origin "${origin}" up to seq ${run.at(-1)!.seq} are not signed by that origin's key (altered or forged)`);
    }
    // The run is the origin's own signed history. Where it overlaps what we hold, it must agree.
    if (first <= held) {
      const at = Math.min(held, run.at(-1)!.seq);
      const stored = at === held && head ? head.hash : await chainAt(origin, at);
      const received = chains[at - first]!;
      if (stored !== received) {
        fork({ origin, seq: at, held: stored ?? '', received });
        continue;
      }
    }
    const skip = Math.max(0, held - first + 1);
    checked.push({ origin, fresh: run.slice(skip), chains: chains.slice(skip) });
  }
  return { runs: checked, forks };
}

/** Whether a run's chain is the origin's: signed at its end, or ending at a revocation's pinned hash. */
function authenticate(origin: string, run: ChangeEntry[], chains: string[], writer: OriginWriter, verifier: SignatureVerifier): 'ok' | 'bad' | 'unverifiable' {
  const last = run.at(-1)!;
  const chain = chains.at(-1)!;
  if (last.seq === writer.upTo && writer.upToChain !== undefined) return chain === writer.upToChain ? 'ok' : 'bad';
  if (!last.sig) {
    if (writer.upTo < Number.MAX_SAFE_INTEGER) return 'unverifiable';
    throw new CrmsyncError('ERR_PROTOCOL', `the last entry of origin "${origin}" in a frame must carry the origin's signature`);
  }
  return verifier.verify(writer.key, entrySigningInput(chain), last.sig) ? 'ok' : 'bad';
}

function chainFrom(base: string, run: readonly ChangeEntry[]): string[] {
  const chains: string[] = [];
  let chain = base;
  for (const entry of run) {
    chain = chainNext(chain, entry, entryDigest(entry));
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
