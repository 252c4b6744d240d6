/**
 * The parent's side of the agents: spawning bench/agent children (compiled: dist/bench/agent.js)
 * and calling their commands over child_process IPC; killing them on exit or ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
// `npm run bench` runs the compiled bench (dist/bench/*.js); `npx tsx bench/run.ts` the sources.
const COMPILED = import.meta.url.endsWith('.js');
const repoDir = COMPILED ? dirname(dirname(benchDir)) : dirname(benchDir);

/** `node` arguments that run a module beside this one: compiled as is, a source through tsx. */
export function siblingArgs(name: string): string[] {
  return COMPILED ? [join(benchDir, `${name}.js`)] : ['--import', 'tsx', join(benchDir, `${name}.ts`)];
}

type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

/** One agent child process. */
export class Agent {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;

  private constructor(readonly name: string, readonly child: ChildProcess) {
    child.on('message', (msg: Reply) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new Error(`agent ${name}: ${msg.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`agent ${name} exited (code ${code}, signal ${signal})`));
      this.waiting.clear();
    });
  }

  /** Starts an agent and waits until it is ready for commands. */
  static async start(name: string, extraNodeArgs: string[] = []): Promise<Agent> {
    const child = spawn(process.execPath, [...extraNodeArgs, ...siblingArgs('agent')], {
      cwd: repoDir,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Structured clone: trust statements carry byte arrays, which JSON would mangle.
      serialization: 'advanced',
    });
    live.add(child);
    child.on('exit', () => live.delete(child));
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`agent ${name} failed to start (code ${code})`)));
    });
    return new Agent(name, child);
  }

  /** Calls a command; resolves with its result. */
  call<T = any>(cmd: string, args: object = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (this.exited) return Promise.reject(new Error(`agent ${this.name} is gone`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, args });
    });
  }

  /** Closes the node and lets the process exit by itself (writes --cpu-prof output). */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call('close').catch(() => undefined);
    await this.call('exit').catch(() => undefined);
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Registers a temp dir to remove on exit. */
export function tempDir(path: string): string {
  tempDirs.add(path);
  return path;
}

/** Kills remaining children and removes temp dirs (sync: also runs from 'exit'). */
export function cleanup(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}
