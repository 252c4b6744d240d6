/**
 * The running demo cluster: its node processes, which links are meant to be up, the
 * controls (laptop offline/online, cut/restore a region link) and the reads the story
 * and the dashboard share (every node's status, the convergence verdict).
 *
 * Invariants:
 *  1. `active` holds exactly the links the demo has added and not removed since.
 *  2. Controls change a link's peers on every side that dials it, so a cut link has no
 *     dialer left that could bring it back.
 */
import type { NodeStatus } from '../src/index.js';
import type { NodeClient } from './client.js';
import { assess, type Assessment, type NodeReport } from './convergence.js';
import { linkKey, linksOf, type LinkSpec, type NodeSpec } from './topology.js';

/** What the cluster needs of a running node (a NodeProcess; tests pass in-process nodes). */
export interface NodeHandle {
  readonly client: NodeClient;
  readonly apiUrl: string;
  readonly peerUrl: string;
  readonly pid: number | undefined;
}

/** How long one node may take to report its status before it counts as not answering. */
const STATUS_TIMEOUT_MS = 5_000;

/** Why a status request failed, briefly: a timeout, or the innermost cause (e.g. "connect ECONNREFUSED 127.0.0.1:4711"). */
export function whyNoAnswer(err: unknown): string {
  let inner = err as { name?: string; message?: string; cause?: unknown } | undefined;
  while (inner?.cause instanceof Error) inner = inner.cause;
  if (inner?.name === 'TimeoutError') return `timed out after ${STATUS_TIMEOUT_MS / 1000} s`;
  return inner?.message ?? String(err);
}

/** A node of the cluster: its role in the story and its process. */
export interface Member {
  spec: NodeSpec;
  process: NodeHandle;
}

/** Every node's report plus the verdict. */
export interface ClusterState {
  reports: NodeReport[];
  assessment: Assessment;
}

/** Polls `probe` every `intervalMs` until it returns a value (not undefined/false), at most `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, intervalMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A wait ran out of time. */
export class TimeoutError extends Error {}

/** Convergence did not happen in time; carries the last observed state. */
export class ConvergenceError extends Error {
  constructor(message: string, readonly state: ClusterState | undefined) {
    super(message);
  }
}

/** The demo's nodes and links. */
export class Cluster {
  readonly links: LinkSpec[];
  private readonly members = new Map<string, Member>();
  private readonly active = new Set<string>();

  constructor(members: Member[]) {
    for (const m of members) this.members.set(m.spec.name, m);
    this.links = linksOf(members.map((m) => m.spec));
  }

  /** Every member, in cast order. */
  all(): Member[] {
    return [...this.members.values()];
  }

  /** The member called `name`; throws a TypeError for an unknown name. */
  get(name: string): Member {
    const member = this.members.get(name);
    if (!member) throw new TypeError(`no node called ${JSON.stringify(name)}`);
    return member;
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  /** The node name behind a peer URL. */
  nameOfUrl = (url: string): string | undefined => this.all().find((m) => m.process.peerUrl === url)?.spec.name;

  /** Whether a link is meant to be up. */
  isActive(a: string, b: string): boolean {
    return this.active.has(linkKey(a, b));
  }

  /** Whether a laptop's links are up (it is "online"). */
  isOnline(name: string): boolean {
    return this.links.some((l) => (l.a === name || l.b === name) && this.isActive(l.a, l.b));
  }

  /** Adds every link of the topology. */
  async connectAll(): Promise<void> {
    await Promise.all(this.links.map((l) => this.setLink(l, true)));
  }

  /** Takes a laptop offline: it stops dialing its region (the only link it has). */
  async setLaptopOnline(name: string, online: boolean): Promise<void> {
    if (this.get(name).spec.role !== 'laptop') throw new TypeError(`${name} is not a laptop`);
    await Promise.all(this.links.filter((l) => l.a === name || l.b === name).map((l) => this.setLink(l, online)));
  }

  /** Cuts or restores the link between two regions (on both sides). */
  async setRegionLink(a: string, b: string, up: boolean): Promise<void> {
    const link = this.links.find((l) => linkKey(l.a, l.b) === linkKey(a, b));
    if (!link || link.kind !== 'region') throw new TypeError(`no region link between ${a} and ${b}`);
    await this.setLink(link, up);
  }

  /** Invariant 2: every side that dials the link adds or removes its peer. */
  private async setLink(link: LinkSpec, up: boolean): Promise<void> {
    const a = this.get(link.a);
    const b = this.get(link.b);
    if (up) this.active.add(linkKey(link.a, link.b));
    else this.active.delete(linkKey(link.a, link.b));
    const sides: [Member, Member][] = [[a, b], [b, a]];
    await Promise.all(sides.filter(([from, to]) => from.spec.dials.includes(to.spec.name)).map(([from, to]) =>
      up ? from.process.client.addPeer(to.process.peerUrl, to.spec.name) : from.process.client.removePeer(to.process.peerUrl)));
  }

  /** Every node's status (a node that does not answer is reported with the error). */
  async read(): Promise<ClusterState> {
    const reports = await Promise.all(this.all().map(async (m): Promise<NodeReport> => {
      try {
        const status: NodeStatus = await m.process.client.status(AbortSignal.timeout(STATUS_TIMEOUT_MS));
        return { name: m.spec.name, status };
      } catch (err) {
        return { name: m.spec.name, status: undefined, error: whyNoAnswer(err) };
      }
    }));
    return { reports, assessment: assess(reports, this.links, this.active, this.nameOfUrl) };
  }

  /** Waits until the verdict is "converged" and every node's record digest is identical. */
  async awaitConvergence(timeoutMs: number): Promise<ClusterState> {
    let last: ClusterState | undefined;
    try {
      return await waitFor('convergence', timeoutMs, async () => {
        last = await this.read();
        if (!last.assessment.converged) return false;
        const digests = new Set((await Promise.all(this.all().map((m) => m.process.client.snapshot()))).map((s) => s.digest));
        return digests.size === 1 && last;
      });
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      throw new ConvergenceError(`the nodes did not converge within ${timeoutMs / 1000} s`, last);
    }
  }
}
