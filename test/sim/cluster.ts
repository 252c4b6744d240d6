/**
 * A simulated cluster: N crmsync nodes on one manual MemoryNetwork, each over its own
 * memory-level database (kept across restarts), all sharing one VirtualTimers. The
 * driver owns every packet and every millisecond; nothing moves between steps except
 * the microtasks a step started, which settle() runs to completion.
 */
import { MemoryLevel } from 'memory-level';
import { Unpackr } from 'msgpackr';
import { pino } from 'pino';
import { openNode, type CrmNode } from '../../src/node.js';
import type { Limits } from '../../src/limits.js';
import { MemoryNetwork, type InFlightItem } from '../../src/net/memory-transport.js';
import { createTestCluster } from '../../src/testing.js';
import type { Role, Scope } from '../../src/trust/statements.js';
import { Prng } from './prng.js';
import { VirtualTimers } from './virtual-timers.js';


/** Policies of every simulated node: the defaults, and the `score` custom field keeps its largest value. */
export const SIM_MERGE_POLICIES = { 'custom.score': 'max' };
/** Virtual epoch the simulations start at (so createdAt values look like real dates). */
export const SIM_EPOCH = 1_700_000_000_000;

/** Limits that make timeouts and backoff short in virtual time. */
export const SIM_LIMITS: Partial<Limits> = {
  ackTimeoutMs: 1_000,
  handshakeTimeoutMs: 2_000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 2_000,
};

/** Close reasons that never indicate an engine bug, whatever the network did. */
const BENIGN_CLOSE_CODES = new Set(['ERR_CLOSED']);

/** How a cluster is built. */
export interface ClusterOptions {
  seed: number;
  size: number;
  /** dials[i]: indexes of the nodes node i dials. */
  dials: number[][];
  limits?: Partial<Limits>;
  /** Session closes with these error codes are expected (e.g. ERR_PROTOCOL under reordering). */
  tolerate?: string[];
  /** Node names of hostile participants: sessions with them may close for cause, and fork evidence about them is expected. */
  hostile?: readonly string[];
  /** Log level to capture into `onLog` for diagnosis (default 'warn'). */
  logLevel?: string;
  /** Receives every captured log line (parsed). */
  onLog?: (node: string, entry: Record<string, unknown>) => void;
  /** Per node: its trust-list grant (default: a region) and its subscription (subscriptions.test.ts: laptops). */
  members?: ({ grant: { role: Role; scope?: Scope }; subscription?: { territories?: string[] } } | undefined)[];
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A short label for a packet: `n1->n2 changes`. */
export function describePacket(item: InFlightItem): string {
  if (item.kind === 'close') return `${item.from}->${item.to} close(${String(item.code)})`;
  let type = '?';
  try {
    type = String((unpackr.unpack(item.frame!) as { type?: unknown }).type);
  } catch {
    // not a protocol frame; the label says so
  }
  return `${item.from}->${item.to} ${type}`;
}

/** The message type of a frame ('close' for a close packet). */
export function packetType(item: InFlightItem): string {
  return describePacket(item).split(' ')[1]!;
}

/** See the file comment. Invariant: nodes[i] is undefined exactly while node i is down. */
export class SimCluster {
  readonly network = new MemoryNetwork({ mode: 'manual' });
  /** Every node is a member of one cluster (keys are not seeded: nothing compared depends on them). */
  readonly cluster = createTestCluster();
  readonly timers = new VirtualTimers(SIM_EPOCH);
  readonly names: string[];
  readonly dbs: MemoryLevel<string, Uint8Array>[];
  readonly nodes: (CrmNode | undefined)[];
  readonly limits: Partial<Limits>;
  /** Log lines that indicate an engine bug (errors, internal failures). */
  readonly problems: string[] = [];
  /** Counts of warnings seen, by message and code (for the run summary). */
  readonly warnings = new Map<string, number>();
  readonly partitions = new Set<string>();
  #events = 0;
  #logLines = 0;
  readonly #incarnations: number[];
  readonly #rng: Prng;
  readonly #tolerate: Set<string>;

  constructor(readonly options: ClusterOptions) {
    this.names = Array.from({ length: options.size }, (_, i) => `n${i}`);
    this.dbs = this.names.map(() => new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' }));
    this.nodes = this.names.map(() => undefined);
    this.#incarnations = this.names.map(() => 0);
    this.#rng = new Prng(options.seed).fork(0x5eed);
    this.limits = { ...SIM_LIMITS, ...options.limits };
    this.#tolerate = new Set([...BENIGN_CLOSE_CODES, ...(options.tolerate ?? [])]);
  }

  /** Starts every node. */
  async startAll(): Promise<void> {
    for (let i = 0; i < this.names.length; i++) if (!this.nodes[i]) await this.start(i);
    await this.settle();
  }

  /** Indexes of running nodes. */
  up(): number[] {
    return this.names.flatMap((_, i) => (this.nodes[i] ? [i] : []));
  }

  /** Indexes of stopped nodes. */
  down(): number[] {
    return this.names.flatMap((_, i) => (this.nodes[i] ? [] : [i]));
  }

  /** The running node i (throws if it is down: a driver bug). */
  node(i: number): CrmNode {
    const node = this.nodes[i];
    if (!node) throw new TypeError(`node ${this.names[i]} is down`);
    return node;
  }

  /** (Re)opens node i on its database; every incarnation gets its own random streams. */
  async start(i: number): Promise<void> {
    if (this.nodes[i]) throw new TypeError(`node ${this.names[i]} is already up`);
    const name = this.names[i]!;
    const rng = this.#rng.fork(i * 10_007 + this.#incarnations[i]!++);
    const member = this.options.members?.[i];
    const node = await openNode({
      // Without members given, the last two nodes are laptops: owner-region fields then have writers of both roles.
      ...this.cluster.member(name, member?.grant ?? { role: i >= this.names.length - 2 ? 'laptop' : 'region' }),
      ...(member?.subscription ? { subscription: member.subscription } : {}),
      mergePolicies: SIM_MERGE_POLICIES,
      db: this.dbs[i], nodeId: name, transport: this.network.transport(name), timers: this.timers,
      random: () => rng.next(), randomBytes: (n) => rng.bytes(n), sync: false, limits: this.limits,
      logger: this.#logger(name), listen: {}, peers: this.options.dials[i]!.map((j) => `mem://${this.names[j]}`),
    });
    node.onChange(() => this.#events++);
    this.nodes[i] = node;
  }

  /** Stops node i: gracefully (close packets go out) or as a crash (links cut first). */
  async stop(i: number, crash: boolean): Promise<void> {
    const node = this.node(i);
    this.nodes[i] = undefined;
    if (crash) this.network.closeAll(this.names[i]!);
    await node.close();
  }

  /** Cuts the link between nodes a and b. */
  partition(a: number, b: number): void {
    this.partitions.add(pairKey(a, b));
    this.network.partition(this.names[a]!, this.names[b]!);
  }

  /** Restores the link between nodes a and b. */
  heal(a: number, b: number): void {
    this.partitions.delete(pairKey(a, b));
    this.network.heal(this.names[a]!, this.names[b]!);
  }

  /** Partitioned pairs as [a, b] with a < b, in a stable order. */
  partitioned(): [number, number][] {
    return [...this.partitions].sort().map((key) => key.split('-').map(Number) as [number, number]);
  }

  /**
   * Runs the work the last step started until nothing moves: every round is one full
   * turn of the event loop (all microtasks drain before an immediate runs); we stop
   * once the observable state (packets, durable changes, log lines) stayed the same
   * for two rounds and no immediate is pending. Manual mode and memory-level use no
   * real I/O, so this always terminates.
   */
  async settle(): Promise<void> {
    let last = this.#signature();
    let stable = 0;
    for (let round = 0; round < 10_000; round++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const now = this.#signature();
      if (now !== last) {
        last = now;
        stable = 0;
        continue;
      }
      stable++;
      const idle = !process.getActiveResourcesInfo().includes('Immediate');
      if ((stable >= 2 && idle) || stable >= 20) return;
    }
    throw new Error('settle: the cluster is still busy after 10000 event-loop turns (a livelock)');
  }

  /** Advances virtual time by `ms`, one due timer at a time, settling after each. */
  async advance(ms: number): Promise<void> {
    const target = this.timers.now() + ms;
    while (this.timers.runNext(target)) await this.settle();
    this.timers.advance(target - this.timers.now());
  }

  /** Delivers the packet at `index` and lets its consequences settle. */
  async deliver(index: number): Promise<void> {
    this.network.deliver(index);
    await this.settle();
  }

  /** Closes every running node (end of a run). */
  async closeAll(): Promise<void> {
    for (const i of this.up()) await this.stop(i, false);
  }

  #signature(): string {
    return `${this.network.pendingCount}/${this.#events}/${this.#logLines}`;
  }

  /** A warn-level pino logger whose lines are parsed, counted and screened for bugs. */
  #logger(name: string) {
    return pino({ level: this.options.logLevel ?? 'warn', base: undefined }, {
      write: (line: string) => {
        const entry = JSON.parse(line) as { level: number; msg: string; code?: string; peer?: string; err?: { message?: string } };
        this.options.onLog?.(name, entry);
        if (entry.level < 40) return;
        // A hostile peer being refused is the engine working; only what it does to honest links counts.
        if (entry.peer !== undefined && this.options.hostile?.includes(entry.peer) && entry.msg !== 'connection handler threw') return;
        this.#logLines++;
        const key = `${entry.msg}${entry.code ? ` ${entry.code}` : ''}`;
        this.warnings.set(key, (this.warnings.get(key) ?? 0) + 1);
        const closeOk = entry.msg !== 'closing peer session' || this.#tolerate.has(entry.code ?? '');
        if (entry.level >= 50 || !closeOk) {
          this.problems.push(`${name}: ${key}${entry.err?.message ? ` (${entry.err.message})` : ''} at t+${this.timers.now() - SIM_EPOCH}`);
        }
      },
    });
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}
