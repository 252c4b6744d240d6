/**
 * One anti-entropy exchange, run by the node that starts it (PROTOCOL.md, "Anti-entropy"):
 *  1. `groups`: both clocks and every territory group's root; equal roots end here.
 *  2. `children`, level by level: only nodes whose hashes differ are descended into, all
 *     of one level in one request, until a node holds at most `maxDigestLeafRecords` on
 *     both sides; then `records` lists those nodes' (id, record hash).
 *  3. `compare`: the candidates' current hashes on both sides (snapshots may be seconds
 *     old): what still differs is the result.
 *  4. Repair through normal sync: each side re-derives those records from its own
 *     verified log (`repair`), a side whose clock lacks entries gets them from the stream
 *     (the machine restarts a stream whose peer lacks what it counted as delivered), we
 *     wait for in-flight changes to settle, then `compare` again.
 * A single differing record among n costs about log16(n) + 5 round trips.
 */
import { holds, holdsAll, holdsTerritory, mayHoldTerritory, type Holding } from '../crdt/holding.js';
import { lacking, seqsFromWire, seqsOf, toWireClock, type OriginClock } from '../crdt/origin-clock.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import type { AntiEntropy, DigestAskBody, DigestChannel } from './anti-entropy.js';
import { DIGEST_FANOUT, DIGEST_ID_NIBBLES, sameHash, type DigestSnapshot, type Territory } from './digest.js';
import type { DigestPath, DigestResponseMessage } from './messages.js';

/**
 * Candidates one exchange confirms and repairs (four compare and four repair requests):
 * the rest are reported as differing and remaining, so a peer's rate limit and the cost
 * of re-deriving documents stay bounded.
 */
const MAX_CHECKED_PER_EXCHANGE = 4 * FIXED.maxDigestIds;

/** What one exchange found and did. */
export interface AntiEntropyResult {
  peer: string;
  /** When it started (ms since epoch). */
  at: number;
  durationMs: number;
  roundTrips: number;
  /** Records compared: the larger of the two holdings, within the territories both keep. */
  compared: number;
  /** Records found different (held by one side only, or with other heads); beyond the 1,024 one exchange checks, counted from the digests. */
  differing: number;
  /** Their ids (the first `maxReportedProblems`; ids only, never record data). */
  differingIds: string[];
  /** Differing records that were the same after the repair. */
  repaired: number;
  /** Records still different after the repair, and the first of their ids. */
  remaining: number;
  remainingIds: string[];
}

/** Collaborators of one exchange. */
export interface ExchangeContext {
  ae: AntiEntropy;
  channel: DigestChannel;
  peer: string;
  holdings(): OriginClock;
  /** What the peer keeps (its subscription AND scope, as its open declared). */
  peerHolding: Holding;
  now(): number;
  /** Resolves once neither side lacks entries the other holds (or the settle time is up). */
  settle(): Promise<void>;
  maxReported: number;
}

/** Runs one exchange with the peer behind `ctx.channel`. */
export async function runExchange(ctx: ExchangeContext): Promise<AntiEntropyResult> {
  const at = ctx.now();
  let roundTrips = 0;
  const ask = (body: Partial<DigestAskBody> & Pick<DigestAskBody, 'what'>): Promise<DigestResponseMessage> => {
    roundTrips++;
    return ctx.ae.request(ctx.channel, { paths: [], ids: [], ...body });
  };
  const ours = await ctx.ae.snapshot();
  const root = await ask({ what: 'groups', clock: toWireClock(ctx.holdings()) });
  if (!root.groups || !root.clock) throw new CrmsyncError('ERR_PROTOCOL', 'the peer answered groups without groups or clock');
  const walk = new Walk(ours);
  const theirGroups = new Map(root.groups.map(([t, count, hash]) => [t, { count, hash }]));
  // Only what both sides keep is compared: a laptop holding one territory is not
  // "missing" the others, nor is a region "missing" a laptop's view of them.
  const mineHolding = ctx.ae.holding();
  const shared = (t: Territory) => mayHoldTerritory(mineHolding, t) && mayHoldTerritory(ctx.peerHolding, t);
  let oursTotal = 0;
  let theirsTotal = 0;
  for (const t of new Set<Territory>([...ours.groups().map((g) => g.territory), ...theirGroups.keys()])) {
    if (!shared(t)) continue;
    const mine = ours.node(t, '');
    const theirs = theirGroups.get(t) ?? { count: 0, hash: new Uint8Array(0) };
    oursTotal += mine.count;
    theirsTotal += theirs.count;
    if (!sameHash(mine.hash, theirs.hash)) walk.decide([t, ''], mine.count, theirs.count);
  }
  for (;;) {
    const batch = walk.next();
    if (!batch) break;
    const answer = await ask(batch);
    if (batch.what === 'children') walk.children(batch.paths, answer.children);
    else walk.listed(batch.paths, answer.records, await Promise.all(batch.paths.map(([t, p]) => ctx.ae.hashesOf(ours.ids(t, p)))));
  }
  // Bounded work per exchange (a peer holding none of a territory makes every record of it
  // a candidate): the rest count as differing and remaining, for the next exchange.
  const candidates = (await bothKeep(ctx, mineHolding, walk.candidates)).sort();
  const unchecked = Math.max(0, candidates.length - MAX_CHECKED_PER_EXCHANGE);
  const differingIds = await confirm(ctx, ask, candidates.slice(0, MAX_CHECKED_PER_EXCHANGE));
  const result: AntiEntropyResult = {
    peer: ctx.peer, at, durationMs: 0, roundTrips, compared: Math.max(oursTotal, theirsTotal), differing: differingIds.length + unchecked,
    differingIds: differingIds.slice(0, ctx.maxReported), repaired: 0, remaining: unchecked, remainingIds: [],
  };
  if (differingIds.length > 0) {
    for (const ids of chunks(differingIds, FIXED.maxDigestIds)) {
      await ctx.ae.rederive(ids);
      await ask({ what: 'repair', ids });
    }
    const mine = seqsOf(ctx.holdings());
    const theirs = seqsFromWire(root.clock);
    if (lacking(mine, theirs) > 0 || lacking(theirs, mine) > 0) await ctx.settle();
    const remaining = await confirm(ctx, ask, differingIds);
    result.remaining += remaining.length;
    result.remainingIds = remaining.slice(0, ctx.maxReported);
    result.repaired = differingIds.length - remaining.length;
  }
  return { ...result, roundTrips, durationMs: ctx.now() - at };
}

/**
 * The candidates both sides keep. A record held here counts if the peer's holding takes
 * its placement; one held only there, if ours takes every record of its territory (with
 * an owner filter on our side we cannot tell from its id: left out, see PROTOCOL.md).
 */
async function bothKeep(ctx: ExchangeContext, mine: Holding, candidates: ReadonlyMap<string, Territory>): Promise<string[]> {
  if (holdsAll(mine) && holdsAll(ctx.peerHolding)) return [...candidates.keys()];
  const ids = [...candidates.keys()];
  const placements = await ctx.ae.placementsOf(ids);
  return ids.filter((id, i) => {
    const place = placements[i];
    return place ? holds(ctx.peerHolding, place) : holdsTerritory(mine, candidates.get(id)!);
  });
}

/** The ids among `candidates` whose current hashes differ between the two sides. */
async function confirm(ctx: ExchangeContext, ask: (body: Pick<DigestAskBody, 'what' | 'ids'>) => Promise<DigestResponseMessage>, candidates: string[]): Promise<string[]> {
  const differing: string[] = [];
  for (const ids of chunks(candidates.sort(), FIXED.maxDigestIds)) {
    const [answer, mine] = await Promise.all([ask({ what: 'compare', ids }), ctx.ae.hashesOf(ids)]);
    const theirs = new Map((answer.records?.[0] ?? []).map(([id, hash]) => [id, hash]));
    for (const [id, hash] of mine) {
      const other = theirs.get(id) ?? new Uint8Array(0);
      if (hash.length !== other.length || !sameHash(hash, other)) differing.push(id);
    }
  }
  return differing;
}

/** The descent: which digest nodes to ask about next, and the candidate ids found so far. */
class Walk {
  /** Candidate ids, with the territory group they were found in. */
  readonly candidates = new Map<string, Territory>();
  #descend: DigestPath[] = [];
  #list: DigestPath[] = [];

  constructor(private readonly ours: DigestSnapshot) {}

  /** A node whose hashes differ: list it, descend into it, or (peer holds nothing there) take all our ids. */
  decide(path: DigestPath, mine: number, theirs: number): void {
    const [t, prefix] = path;
    if (theirs === 0) {
      for (const id of this.ours.ids(t, prefix)) this.candidates.set(id, t);
    } else if (Math.max(mine, theirs) <= FIXED.maxDigestLeafRecords || prefix.length >= DIGEST_ID_NIBBLES) {
      this.#list.push(path);
    } else {
      this.#descend.push(path);
    }
  }

  /** The next request: deeper levels first wait for the current one (breadth first), listings after. */
  next(): (Pick<DigestAskBody, 'what' | 'paths'>) | undefined {
    if (this.#descend.length > 0) return { what: 'children', paths: this.#descend.splice(0, FIXED.maxDigestPaths) };
    if (this.#list.length > 0) return { what: 'records', paths: this.#list.splice(0, FIXED.maxDigestPaths) };
    return undefined;
  }

  children(paths: DigestPath[], answer: DigestResponseMessage['children']): void {
    if (answer?.length !== paths.length) throw new CrmsyncError('ERR_PROTOCOL', 'the peer answered children for other paths');
    paths.forEach(([t, prefix], i) => {
      const mine = this.ours.children(t, prefix);
      for (let c = 0; c < DIGEST_FANOUT; c++) {
        const [count, hash] = answer[i]![c]!;
        if (!sameHash(mine[c]!.hash, hash)) this.decide([t, prefix + c.toString(16)], mine[c]!.count, count);
      }
    });
  }

  listed(paths: DigestPath[], answer: DigestResponseMessage['records'], mine: [string, Uint8Array][][]): void {
    if (answer?.length !== paths.length) throw new CrmsyncError('ERR_PROTOCOL', 'the peer listed other paths');
    paths.forEach((path, i) => {
      const theirs = answer[i];
      const t = path[0];
      // Too full to list on their side (records arrived since they counted): descend instead.
      if (theirs === null || theirs === undefined) {
        if (path[1].length < DIGEST_ID_NIBBLES) this.#descend.push(path);
        else for (const [id] of mine[i]!) this.candidates.set(id, t);
        return;
      }
      const other = new Map(theirs.map(([id, hash]) => [id, hash]));
      for (const [id, hash] of mine[i]!) {
        const h = other.get(id);
        if (!h || !sameHash(h, hash)) this.candidates.set(id, t);
        other.delete(id);
      }
      for (const id of other.keys()) this.candidates.set(id, t);
    });
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
