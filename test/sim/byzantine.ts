/**
 * A Byzantine cluster member for the seeded simulation: a real member ("byz", with a
 * key and a grant) that performs the real handshake over the simulated network and then
 * lies in every way issue 8 lists. Its own origin log is canonical (one signed history,
 * sent in full every time, so honest nodes relay it and end up holding the same); next
 * to it, it sends garbage and out-of-schema bodies under its own signature, entries
 * under other origins (another member's, the receiver's own) signed with its key,
 * divergent same-seq entries for what a node already holds, forged views, invented
 * origins, garbage frames, and hellos claiming another node's id. Every value that only
 * a lie carries is recorded in `poison`: no honest node may ever show one.
 */
import { pack, unpack } from 'msgpackr';
import { chainStart } from '../../src/crdt/origin-clock.js';
import type { Connection } from '../../src/net/transport.js';
import type { MemoryNetwork, MemoryTransport } from '../../src/net/memory-transport.js';
import type { MemberOptions, TestCluster } from '../../src/testing.js';
import { loadNodeKeys, parseFingerprint, type NodeKeys } from '../../src/trust/keys.js';
import { clusterIdOf } from '../../src/trust/statements.js';
import { MemberDocs, atomic, garbageChange, noise } from '../support/member-docs.js';
import { OriginLog, type RecordChange } from '../support/origin-log.js';
import { authSignature } from '../support/raw-peer.js';
import type { SimCluster } from './cluster.js';
import type { Prng } from './prng.js';
import { RECORD_IDS } from './workload.js';

/** The kinds of lie, with their weights. */
export const LIES = {
  dial: 1, legit: 3, garbage: 2, schema: 2, schemaOnHonest: 2, forgeOrigin: 2, victimOrigin: 2,
  fork: 2, forgedView: 2, ghosts: 2, garbageFrame: 1, takeover: 1,
} as const;
type Lie = keyof typeof LIES;
/** Packets of its own byz pushes through in one step at most. */
const MAX_PUMPED = 200;

/** One session of byz with an honest node. */
interface Session {
  target: string;
  connection: Connection;
  open: boolean;
  ourHello: Uint8Array;
  /** The node's clock from its `open` (origin -> [seq, chain hash hex]). */
  clock: Map<string, { seq: number; hash: string }>;
  batch: number;
  /** Canonical entries of byz this node is known to hold (open clock, acks). */
  held: number;
  /** Canonical length sent in each batch, to learn `held` from its ack. */
  sentUpTo: Map<number, number>;
}

/** See the file comment. */
export class Byzantine {
  readonly name = 'byz';
  /** Values only lies carry. */
  readonly poison: string[] = [];
  /** Steps taken, by kind of lie. */
  readonly told = new Map<Lie, number>();
  /** How the honest nodes closed byz's sessions, by close code. */
  readonly closes = new Map<number, number>();
  readonly #member: MemberOptions;
  readonly #keys: NodeKeys;
  readonly #cluster: string;
  readonly #transport: MemoryTransport;
  readonly #sessions = new Map<string, Session>();
  readonly #log: OriginLog;
  /** Chain hash after each canonical entry (index seq - 1). */
  readonly #chains: string[] = [];
  readonly #history: Record<string, unknown>[] = [];
  readonly #docs = new MemberDocs('byz', 1);
  /** Honest changes seen per record, to write on top of them. */
  readonly #seen = new Map<string, Uint8Array[]>();
  #lies = 0;
  #incarnation = 10;

  constructor(network: MemoryNetwork, cluster: TestCluster) {
    this.#member = cluster.member(this.name);
    this.#keys = loadNodeKeys(this.#member.identity.privateKeyPem);
    this.#cluster = clusterIdOf(parseFingerprint(this.#member.cluster.founder));
    this.#transport = network.transport(this.name);
    this.#log = new OriginLog(this.#cluster, this.name, this.#keys);
  }

  /**
   * One random step against the running nodes; returns a trace label. Mostly byz then
   * pushes its own packets through at once (as over a fast link), so its handshakes
   * complete and its lies are judged; otherwise they wait for the network like any.
   */
  async step(rng: Prng, cluster: SimCluster): Promise<string> {
    const label = await this.#lie(rng, cluster.up().map((i) => cluster.names[i]!));
    if (!rng.chance(0.75)) return label;
    for (let n = 0; n < MAX_PUMPED; n++) {
      const next = cluster.network.inFlight.findIndex((p) => p.from === this.name || p.to === this.name);
      if (next < 0) break;
      await cluster.deliver(next);
    }
    return `${label} (delivered)`;
  }

  async #lie(rng: Prng, targets: string[]): Promise<string> {
    const open = [...this.#sessions.values()].filter((s) => s.open && targets.includes(s.target));
    let kind: Lie = rng.weighted(LIES);
    if (kind !== 'takeover' && kind !== 'dial' && open.length === 0) kind = 'dial';
    if (kind === 'dial' || kind === 'takeover') {
      this.told.set(kind, (this.told.get(kind) ?? 0) + 1);
      const free = targets.filter((t) => !this.#sessions.has(t));
      if (free.length === 0) return 'byz: every node has a session';
      return this.#dial(rng.pick(free), kind === 'takeover' ? rng.pick(targets) : undefined);
    }
    const holding = open.filter((o) => o.held > 0);
    if (kind === 'fork' && holding.length === 0) kind = 'legit'; // a fork needs a node that holds what it contradicts
    const s = rng.pick(kind === 'fork' ? holding : open);
    const n = ++this.#lies;
    this.told.set(kind, (this.told.get(kind) ?? 0) + 1);
    // The node closes the session for these; lie to it no more (byz redials later).
    if (kind === 'forgeOrigin' || kind === 'victimOrigin' || kind === 'fork' || kind === 'garbageFrame') s.open = false;
    switch (kind) {
      case 'legit':
        this.#append(this.#ownWrite(`byz-${rng.int(0, 3)}`, (d) => { d.company = atomic(`Byz Legit ${n}`); }));
        return this.#sendCanonical(s, 'legit');
      case 'garbage':
        this.#append({ record: rng.pick(RECORD_IDS), change: rng.chance(0.5) ? garbageChange(n) : noise(rng.int(1, 90), n) });
        return this.#sendCanonical(s, 'garbage body');
      case 'schema':
        this.#append(this.#ownWrite(`byz-${rng.int(0, 3)}`, (d) => { d.stage = this.#poison(`pwned-not-a-stage-${n}`); }));
        return this.#sendCanonical(s, 'out-of-schema body');
      case 'schemaOnHonest': {
        const record = rng.pick(RECORD_IDS);
        const docs = new MemberDocs('byz', this.#incarnation++ % 250 + 2);
        try {
          docs.learn(record, this.#seen.get(record) ?? []);
          this.#append({ record, change: docs.write(record, (d) => { d.name = this.#poison(`Pwned ${'x'.repeat(994)}${n}`); d.email = `${this.#poison(`false-${n}`)}@evil.example`; }) });
        } finally {
          docs.close();
        }
        return this.#sendCanonical(s, `out-of-schema edit of ${record}`);
      }
      case 'forgeOrigin':
      case 'victimOrigin': {
        const others = [...s.clock.keys()].filter((o) => o !== this.name && o !== s.target);
        const victim = kind === 'victimOrigin' || others.length === 0 ? s.target : rng.pick(others);
        const head = s.clock.get(victim);
        const forged = new OriginLog(this.#cluster, victim, this.#keys, head ? { seq: head.seq, chain: head.hash } : undefined);
        const docs = new MemberDocs(victim, 200);
        const change = docs.write(`forged-${n}`, (d) => { d.id = atomic(`forged-${n}`); d.name = this.#poison(`Forged as ${victim} ${n}`); d.createdAt = 1; d.updatedAt = 1; });
        docs.close();
        this.#send(s, { type: 'changes', epoch: 0, batch: ++s.batch, entries: forged.next([{ record: `forged-${n}`, change }]) });
        return `byz->${s.target} entries under origin ${victim}`;
      }
      case 'fork': {
        const seq = rng.int(1, s.held);
        const fork = new OriginLog(this.#cluster, this.name, this.#keys, { seq: seq - 1, chain: this.#chains[seq - 2] ?? chainStart(this.#cluster, this.name) });
        const docs = new MemberDocs('byz', 251);
        const change = docs.write(`fork-${n}`, (d) => { d.id = atomic(`fork-${n}`); d.name = this.#poison(`Fork ${n}`); d.createdAt = 1; d.updatedAt = 1; });
        docs.close();
        this.#send(s, { type: 'changes', epoch: 0, batch: ++s.batch, entries: fork.next([{ record: `fork-${n}`, change }]) });
        return `byz->${s.target} a second history at seq ${seq}`;
      }
      case 'forgedView': {
        const record = `byz-${rng.int(0, 3)}`;
        this.#append(this.#ownWrite(record, (d) => { d.company = atomic(`Byz View ${n}`); }), {
          v: { id: record, name: this.#poison(`Forged view ${n}`), email: `${this.#poison(`view-${n}`)}@evil.example`, stage: this.#poison(`view-stage-${n}`) },
        });
        return this.#sendCanonical(s, 'forged view');
      }
      case 'ghosts': {
        const ghosts = Array.from({ length: rng.int(1, 50) }, (_, i) => [`ghost-${n}-${i}`, rng.int(1, 1e6), rng.bytes(32)]);
        this.#send(s, { type: rng.pick(['have', 'ack', 'resync']), batch: s.batch, epoch: s.batch + 1, clock: ghosts });
        const ghostDocs = new MemberDocs(`ghost-${n}`);
        const change = ghostDocs.write(`ghost-record-${n}`, (d) => { d.name = this.#poison(`Ghost ${n}`); });
        ghostDocs.close();
        this.#send(s, { type: 'changes', epoch: 0, batch: ++s.batch, entries: [{ o: `ghost-${n}`, s: 1, r: `ghost-record-${n}`, c: change, g: rng.bytes(64) }] });
        return `byz->${s.target} invented origins`;
      }
      case 'garbageFrame':
        s.connection.send(rng.chance(0.5) ? rng.bytes(rng.int(1, 200)) : Uint8Array.of(0xc1));
        return `byz->${s.target} garbage frame`;
    }
  }

  /** Closes every session (before the final phase: the honest nodes must converge without it). */
  stop(): void {
    for (const s of this.#sessions.values()) s.connection.close(1000, 'byz leaves');
    this.#docs.close();
  }

  /** A change of byz's own record `record` (created with the fields a record needs on first write). */
  #ownWrite(record: string, edit: (d: Record<string, unknown>) => void): RecordChange {
    return {
      record,
      change: this.#docs.write(record, (d) => {
        if (d.id === undefined) Object.assign(d, { id: atomic(record), name: atomic(`Byz ${record}`), createdAt: 1, updatedAt: 1 });
        edit(d);
      }),
    };
  }

  #poison(value: string): ReturnType<typeof atomic> {
    this.poison.push(value);
    return atomic(value);
  }

  /** Appends a change to the canonical log (extra wire fields, e.g. a forged view, ride along). */
  #append(change: RecordChange, extra: Record<string, unknown> = {}): void {
    const [entry] = this.#log.next([change]);
    this.#chains.push(this.#log.chain);
    this.#history.push({ ...entry, ...extra });
  }

  /** Sends the whole canonical history (honest nodes skip what they hold). */
  #sendCanonical(s: Session, what: string): string {
    const batch = ++s.batch;
    s.sentUpTo.set(batch, this.#history.length);
    this.#send(s, { type: 'changes', epoch: 0, batch, entries: this.#history });
    return `byz->${s.target} ${what} (canonical 1..${this.#history.length})`;
  }

  #send(s: Session, message: Record<string, unknown>): void {
    s.connection.send(pack(message));
  }

  async #dial(target: string, claim: string | undefined): Promise<string> {
    let connection: Connection;
    try {
      connection = await this.#transport.dial(`mem://${target}`);
    } catch (err) {
      return `byz dial ${target} failed: ${(err as { code?: string }).code ?? 'error'}`;
    }
    const hello = pack({
      type: 'hello', protocol: 2, cluster: this.#cluster, node: claim ?? this.name, key: this.#keys.publicKey,
      nonce: noise(32, ++this.#lies), proof: this.#member.cluster.statements.slice(-1),
    });
    const s: Session = { target, connection, open: false, ourHello: hello, clock: new Map(), batch: 0, held: 0, sentUpTo: new Map() };
    if (claim === undefined) this.#sessions.set(target, s);
    connection.setHandlers({
      onFrame: (frame) => {
        connection.processed(frame.length);
        this.#onFrame(s, frame);
      },
      onClose: (code) => {
        this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
        if (this.#sessions.get(target) === s) this.#sessions.delete(target);
      },
    });
    connection.send(hello);
    return claim === undefined ? `byz dials ${target}` : `byz dials ${target} claiming to be ${claim}`;
  }

  #onFrame(s: Session, frame: Uint8Array): void {
    const m = unpack(frame) as Record<string, unknown>;
    switch (m.type) {
      case 'hello':
        s.connection.send(pack({ type: 'auth', sig: authSignature(this.#keys, s.ourHello, frame) }));
        break;
      case 'open':
        for (const [origin, seq, hash] of m.clock as [string, number, Uint8Array][]) s.clock.set(origin, { seq, hash: Buffer.from(hash).toString('hex') });
        s.held = s.clock.get(this.name)?.seq ?? 0;
        s.open = true;
        this.#send(s, { type: 'open', clock: [], trust: '' });
        break;
      case 'ack':
        s.held = Math.max(s.held, s.sentUpTo.get(m.batch as number) ?? 0);
        break;
      case 'changes':
        // Learn honest changes (to write on top of them), and acknowledge like a peer would.
        for (const e of m.entries as { r: string; c: Uint8Array; o: string }[]) {
          if (e.o !== this.name) this.#seen.set(e.r, [...(this.#seen.get(e.r) ?? []), e.c]);
        }
        this.#send(s, { type: 'ack', batch: m.batch, clock: [] });
        break;
      default:
        break;
    }
  }
}
