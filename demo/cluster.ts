/**
 * Driver side of the demo: spawns node agents as child processes, calls them over IPC
 * with bounded timeouts, stops them, and polls the cluster for conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { canonicalJson, type AgentApi, type AgentConfig, type AgentMessage, type Op, type Snapshot } from './protocol.js';
import type { NodeStatus } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AGENT = fileURLToPath(new URL('./node-agent.ts', import.meta.url));

/** Every agent process not yet exited (so Ctrl-C can stop even half-started ones). */
const running = new Set<Agent>();

const everyAgent: Agent[] = [];

/** The output tails of every agent ever started (for failure reports). */
export function agentLogs(): string {
  return everyAgent.map((a) => a.logs()).filter(Boolean).join('\n');
}

/** Stops every agent process this driver started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((agent) => agent.stop()));
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** One node process. */
export class Agent {
  url = '';
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private output = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => (this.output += `\n[driver] ${err.message}`));
    running.add(this);
    everyAgent.push(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(this);
        this.exitCode = code ?? (signal ? 128 : null);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${name} exited (${signal ?? code}) before answering`));
        }
        this.pending.clear();
        resolve();
      });
    });
    child.on('message', (raw) => {
      const msg = raw as AgentMessage;
      if (msg.kind !== 'response') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error}${msg.code ? ` (${msg.code})` : ''}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Spawns `node --import tsx demo/node-agent.ts` and waits until its node listens. */
  static start(config: AgentConfig, timeoutMs = 20_000): Promise<Agent> {
    const child = spawn(process.execPath, ['--import', 'tsx', AGENT, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const agent = new Agent(config.nodeId, child);
    return new Promise((resolve, reject) => {
      const settle = (why?: string) => {
        clearTimeout(timer);
        child.off('exit', onExit).off('error', onError).off('message', onMessage);
        if (why === undefined) return resolve(agent);
        child.kill('SIGKILL');
        reject(new Error(`node ${config.nodeId} did not start: ${why}\n${agent.logs()}`));
      };
      const onExit = (code: number | null) => settle(`process exited with code ${code}`);
      const onError = (err: Error) => settle(err.message);
      const onMessage = (raw: unknown) => {
        const msg = raw as AgentMessage;
        if (msg.kind === 'failed') settle(msg.error);
        if (msg.kind !== 'ready') return;
        agent.url = msg.url;
        settle();
      };
      const timer = setTimeout(() => settle(`no 'ready' within ${timeoutMs / 1000} s`), timeoutMs);
      child.on('exit', onExit).on('error', onError).on('message', onMessage);
    });
  }

  /** Calls the agent; rejects if it does not answer within 15 s. */
  call<K extends Op>(op: K, ...args: Parameters<AgentApi[K]>): Promise<ReturnType<AgentApi[K]>> {
    return this.callWithin(15_000, op, ...args);
  }

  /** Calls the agent; rejects if it does not answer within `timeoutMs`. */
  callWithin<K extends Op>(timeoutMs: number, op: K, ...args: Parameters<AgentApi[K]>): Promise<ReturnType<AgentApi[K]>> {
    if (this.exitCode !== undefined || !this.child.connected) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer '${op}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ kind: 'request', id, op, args }, (err) => {
        if (!err || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name}: could not send '${op}': ${err.message}`));
      });
    });
  }

  /** Asks the agent to close its node and exit; kills it if that takes longer than `timeoutMs`. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.exitCode !== undefined) return;
    if (!this.url) this.child.kill('SIGKILL'); // not started yet: nothing to close cleanly
    else await this.callWithin(timeoutMs, 'shutdown').catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    if ((await Promise.race([this.exited, late])) === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    clearTimeout(timer);
  }

  /** The tail of the agent's stdout/stderr (warnings, crashes). */
  logs(): string {
    return this.output.trim() ? `--- ${this.name} output ---\n${this.output.trim()}` : '';
  }
}

/** Polls `probe` every `intervalMs` until it returns a value (not undefined/false), at most `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export class TimeoutError extends Error {}

/** Status and record snapshot of one node. */
export interface NodeState {
  agent: Agent;
  status: NodeStatus;
  snapshot: Snapshot;
  clockKey: string;
}

/** Reads every node's status and snapshot. */
export async function readCluster(agents: Agent[]): Promise<NodeState[]> {
  return Promise.all(agents.map(async (agent) => {
    const [status, snapshot] = await Promise.all([agent.call('status'), agent.call('snapshot')]);
    return { agent, status, snapshot, clockKey: canonicalJson(status.clock) };
  }));
}

/** True when all nodes have equal clocks (and, if asked, identical record digests). */
export function inSync(states: NodeState[], compareDigests: boolean): boolean {
  const [first, ...rest] = states;
  if (!first) return true;
  return rest.every((s) => s.clockKey === first.clockKey && (!compareDigests || s.snapshot.digest === first.snapshot.digest));
}

/** True when `a` reports an open session to the node named `b` (or none, if `want` is false). */
export async function linked(a: Agent, b: Agent, want: boolean): Promise<boolean> {
  const { peers } = await a.call('status');
  const up = peers.some((p) => p.node === b.name && p.state === 'connected');
  return up === want;
}

/** Convergence did not happen in time; carries the last observed states. */
export class ConvergenceError extends Error {
  constructor(message: string, readonly states: NodeState[]) {
    super(message);
  }
}

/** Waits until all clocks are equal AND all record digests are identical. */
export async function awaitConvergence(agents: Agent[], timeoutMs: number): Promise<NodeState[]> {
  let last: NodeState[] = [];
  try {
    return await waitFor('convergence', timeoutMs, async () => {
      last = await readCluster(agents);
      return inSync(last, true) && last;
    });
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    throw new ConvergenceError(`the nodes did not converge within ${timeoutMs / 1000} s`, last);
  }
}
