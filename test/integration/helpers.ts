/**
 * Helpers for integration tests: real LevelDB directories in fresh temp dirs, real
 * sockets on 127.0.0.1 port 0, real child processes. Every wait is on an event or a
 * polled condition (vi.waitFor), never a fixed sleep.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, vi } from 'vitest';
import {
  createLogger, openNode,
  type CrmNode, type Logger, type NodeOptions, type NodeStatus, type RecordChangeEvent, type RecordView,
} from '../../src/index.js';
import { listAll } from '../support/records.js';
import { tempDirs } from '../support/temp-dirs.js';
import { pack } from 'msgpackr';
import { createTestCluster, type MemberOptions, type TestCluster } from '../../src/testing.js';
import { realTimers, type Timers } from '../../src/timers.js';

export { listAll };

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_PROCESS_SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));

/** A clock a test moves forward (`advance`); timers stay real, so waits are on passes, not on time. */
export function testClock(): Timers & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, after: realTimers.after, advance: (ms) => { offset += ms; } };
}

/** Limits that make reconnects quick enough for tests (the defaults wait up to 30 s). */
export const TEST_LIMITS = { reconnectBaseMs: 50, reconnectMaxMs: 1000 } as const;

/** What convergence compares: the version vector and every record. */
export interface NodeSnapshot {
  clock: NodeStatus['clock'];
  records: RecordView[];
}

/** Snapshot of one node's clock and records. */
export async function snapshotOf(node: CrmNode): Promise<NodeSnapshot> {
  const { clock } = await node.status();
  return { clock, records: await listAll(node) };
}

/**
 * Waits until every node has the same status().clock and the same full record list
 * (deleted records included); resolves with the common snapshot. On timeout the
 * assertion error shows the first difference.
 */
export async function waitForConvergence(nodes: CrmNode[], timeoutMs = 30_000): Promise<NodeSnapshot> {
  return vi.waitFor(async () => {
    const snapshots = await Promise.all(nodes.map(snapshotOf));
    const [first, ...rest] = snapshots;
    for (const [i, other] of rest.entries()) {
      expect(other.clock, `clock of ${nodes[i + 1]!.id} vs ${nodes[0]!.id}`).toEqual(first!.clock);
      expect(other.records, `records of ${nodes[i + 1]!.id} vs ${nodes[0]!.id}`).toEqual(first!.records);
    }
    return first!;
  }, { timeout: timeoutMs, interval: 50 });
}

/** Resolves with the first change event on `node` matching `predicate`. */
export function nextChange(node: CrmNode, predicate: (event: RecordChangeEvent) => boolean, timeoutMs = 20_000): Promise<RecordChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching change event on node ${node.id} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = node.onChange((event) => {
      if (!predicate(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

/** Number of peers a node reports as connected. */
export async function connectedPeers(node: CrmNode): Promise<number> {
  return (await node.status()).peers.filter((p) => p.state === 'connected').length;
}

/** One parsed pino log line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A real pino logger whose JSON lines the test reads back (poll them with vi.waitFor). */
export interface CapturedLog {
  logger: Logger;
  lines: LogLine[];
}

/** Creates a logger (level debug) that records its parsed output. */
export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const destination = {
    write(chunk: string): void {
      for (const text of chunk.split('\n')) if (text !== '') lines.push(JSON.parse(text) as LogLine);
    },
  };
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

/** A node running in a child process (see node-process.ts). */
export interface NodeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** URL it listens on (set once ready). */
  url: string;
  /** Record ids whose writes the process acknowledged, in the order it printed them. */
  readonly acked: string[];
  /** Every JSON line it printed. */
  readonly lines: Record<string, unknown>[];
  /** Its stderr so far (JSON log lines), for failure messages. */
  stderr(): string;
  send(command: object): void;
  /** Resolves with the first line (already printed or future) matching `predicate`. */
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once the process exited and its stdout was read to the end. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once it printed its URL (and `url` is set). */
  readonly ready: Promise<void>;
}

/** Starts node-process.ts; await `ready` before using `url`. */
export function launchNodeProcess(dataDir: string, nodeId: string, peers: string[], member: MemberOptions): NodeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_PROCESS_SCRIPT, dataDir, nodeId, ...peers], {
    cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CRMSYNC_LOG_LEVEL: 'warn', CRMSYNC_TEST_MEMBER: Buffer.from(pack(member)).toString('base64') },
  });
  // A command written just as the process dies must not crash the test worker with EPIPE.
  child.stdin.on('error', () => undefined);
  const lines: Record<string, unknown>[] = [];
  const acked: string[] = [];
  let stderr = '';
  let waiters: Array<{ predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const stdout = createInterface({ input: child.stdout });
  const stdoutEnded = new Promise<void>((resolve) => stdout.once('close', resolve));
  stdout.on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    if (typeof line.acked === 'string') acked.push(line.acked);
    waiters = waiters.filter((w) => {
      if (!w.predicate(line)) return true;
      w.resolve(line);
      return false;
    });
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const exited = Promise.all([exit, stdoutEnded]).then(([status]) => status);
  const waitForLine: NodeProcess['waitForLine'] = (predicate, timeoutMs = 30_000) => {
    const found = lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        waiters = waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        reject(new Error(`node process ${nodeId}: ${why}; stderr: ${stderr.slice(-2000)}`));
      };
      const waiter = {
        predicate,
        resolve: (line: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => fail(`no matching line within ${timeoutMs} ms`), timeoutMs);
      void exited.then(() => {
        if (waiters.includes(waiter)) fail('exited before printing a matching line');
      });
      waiters.push(waiter);
    });
  };
  const proc: NodeProcess = {
    child, url: '', acked, lines, exited, waitForLine,
    stderr: () => stderr,
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    ready: waitForLine((line) => typeof line.url === 'string').then((line) => { proc.url = line.url as string; }),
  };
  return proc;
}

/**
 * Owns everything a test creates: temp directories, in-process nodes and child
 * processes. cleanup() (in afterEach) kills the processes, closes the nodes and
 * removes the directories, so no test leaks into the next.
 */
export class Harness {
  /** One cluster per harness: every node a test opens by node id is a member of it. */
  readonly cluster: TestCluster = createTestCluster();
  private readonly dirs = tempDirs('crmsync-it-');
  private readonly nodes: CrmNode[] = [];
  private readonly processes: NodeProcess[] = [];

  /** A fresh, empty temp directory. */
  tempDir(): Promise<string> {
    return this.dirs.make();
  }

  /** Opens a node on 127.0.0.1 port 0 with quick reconnects; closed by cleanup(). */
  async open(options: NodeOptions & { dataDir: string }): Promise<CrmNode> {
    const member = options.nodeId !== undefined && options.cluster === undefined ? this.cluster.member(options.nodeId) : {};
    const node = await openNode({ listen: { host: '127.0.0.1', port: 0 }, ...member, ...options, limits: { ...TEST_LIMITS, ...options.limits } });
    this.nodes.push(node);
    return node;
  }

  /** Starts a node in a child process; killed by cleanup(). */
  async spawn(dataDir: string, nodeId: string, peers: string[] = []): Promise<NodeProcess> {
    const proc = launchNodeProcess(dataDir, nodeId, peers, this.cluster.member(nodeId));
    this.processes.push(proc); // tracked before it is ready, so a hung start is killed too
    await proc.ready;
    return proc;
  }

  async cleanup(): Promise<void> {
    for (const proc of this.processes.splice(0)) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
    }
    // Settled, not all: one node failing to close must not leave directories behind.
    const closes = await Promise.allSettled(this.nodes.splice(0).map((node) => node.close()));
    await this.dirs.cleanup();
    const failed = closes.find((c) => c.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
