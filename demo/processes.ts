/**
 * Starts and stops the demo's node processes. Each node is a real process with its own
 * data directory, WebSocket peer port and HTTP API, started either by the real CLI
 * (`crmsync init` then `crmsync start`) or, as a fallback, by demo/node-agent.ts.
 *
 * Nodes run in their own process group, so a Ctrl-C in the terminal reaches only the
 * demo, which then stops each node in turn (SIGTERM, SIGKILL after a grace period).
 * Should the demo itself die, a node stops too: the agent watches its IPC channel, and a
 * guard preloaded into the CLI (orphan-guard.js) does the same.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NodeClient } from './client.js';
import type { AgentConfig, AgentMessage } from './protocol.js';

// `npm run demo` runs the compiled demo (dist/demo/*.js); `npx tsx demo/run.ts` the sources.
const COMPILED = import.meta.url.endsWith('.js');
const ROOT = fileURLToPath(new URL(COMPILED ? '../..' : '..', import.meta.url));
const CLI = join(ROOT, 'bin', 'crmsync.js');
/** `node` arguments that run demo/node-agent: compiled as is, the source through tsx. */
const AGENT_ARGS = COMPILED
  ? [fileURLToPath(new URL('./node-agent.js', import.meta.url))]
  : ['--import', 'tsx', fileURLToPath(new URL('./node-agent.ts', import.meta.url))];
// Plain JS that is not compiled: always the one in demo/.
const GUARD = join(ROOT, 'demo', 'orphan-guard.js');
/** How long one node may take to start (`crmsync init` included); generous, as several starts share a busy machine. */
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 8_000;

/** How node processes are started. */
export type Launcher = 'cli' | 'agent';

/** The CLI when it exists, unless CRMSYNC_DEMO_LAUNCHER says otherwise. */
export function defaultLauncher(env = process.env): Launcher {
  const chosen = env.CRMSYNC_DEMO_LAUNCHER;
  if (chosen === 'cli' || chosen === 'agent') return chosen;
  return existsSync(join(ROOT, 'src', 'cli', 'main.ts')) ? 'cli' : 'agent';
}

/** What a node process needs. */
export interface NodeProcessOptions {
  name: string;
  dataDir: string;
  peerToken: string;
  launcher: Launcher;
  /** An invitation code from the cluster's founder; absent for the founder itself. */
  invitation?: string;
}

/** Every node process not yet exited, so the demo can stop even half-started ones. */
const running = new Set<NodeProcess>();
const everyProcess: NodeProcess[] = [];

/** Stops every node process the demo started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** The output tails of every node process ever started (for failure reports). */
export function nodeLogs(): string {
  return everyProcess.map((p) => p.logs()).filter(Boolean).join('\n');
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One running node. */
export class NodeProcess {
  apiUrl = '';
  peerUrl = '';
  client!: NodeClient;
  private output = '';
  private exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(readonly name: string, private readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => (this.output += `\n[demo] ${err.message}`));
    running.add(this);
    everyProcess.push(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(this);
        this.exitCode = code ?? (signal ? 128 : null);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** Starts a node and waits until its API answers. */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const { node, ready } = options.launcher === 'cli' ? await startCli(options) : startAgent(options);
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_resolve, reject) => {
      void node.exited.then(() => reject(new Error(`process exited with code ${node.exitCode}`)));
      timer = setTimeout(() => reject(new Error(`not ready within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    const up = ready();
    // Whichever loses the race settles later; that is expected, not an unhandled rejection.
    failed.catch(() => {});
    up.catch(() => {});
    try {
      const { apiUrl, token } = await Promise.race([up, failed]);
      clearTimeout(timer);
      node.apiUrl = apiUrl;
      node.client = new NodeClient(options.name, apiUrl, token);
      node.peerUrl = (await node.client.status()).url ?? '';
      return node;
    } catch (err) {
      clearTimeout(timer);
      node.child.kill('SIGKILL');
      throw new Error(`node ${options.name} did not start: ${(err as Error).message}\n${node.logs()}`, { cause: err });
    }
  }

  /** The agent's one IPC message: its API URL, or why it failed. */
  awaitAgentReady(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.child.on('message', (raw) => {
        const msg = raw as AgentMessage;
        if (msg.kind === 'failed') reject(new Error(msg.error));
        else if (msg.kind === 'ready') resolve(msg.apiUrl);
      });
    });
  }

  /** `crmsync start` writes `<dataDir>/api-url` once its API listens; /readyz confirms it. */
  async awaitApiUrlFile(dataDir: string): Promise<string> {
    for (;;) {
      const url = (await readFile(join(dataDir, 'api-url'), 'utf8').catch(() => '')).trim();
      if (url && (await fetch(new URL('/readyz', url)).then((r) => r.ok, () => false))) return url;
      if (!this.alive) throw new Error(`process exited with code ${this.exitCode}`);
      await wait(100);
    }
  }

  /** Stops the node (SIGTERM, then SIGKILL after a grace period) and waits for the exit. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([this.exited, late])) === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    clearTimeout(timer);
  }

  /** The tail of the process's stdout/stderr (warnings, crashes). */
  logs(): string {
    return this.output.trim() ? `--- ${this.name} output ---\n${this.output.trim()}` : '';
  }
}

/** A spawned node process and how to learn its API URL and token once it is up. */
interface Launched {
  node: NodeProcess;
  ready(): Promise<{ apiUrl: string; token: string }>;
}

const spawnOptions: SpawnOptions = { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true };

function startAgent(options: NodeProcessOptions): Launched {
  const config: AgentConfig = {
    nodeId: options.name, dataDir: options.dataDir, peerToken: options.peerToken, apiToken: randomBytes(24).toString('base64url'),
    ...(options.invitation === undefined ? {} : { invitation: options.invitation }),
  };
  const child = spawn(process.execPath, [...AGENT_ARGS, JSON.stringify(config)], spawnOptions);
  const node = new NodeProcess(options.name, child);
  return { node, ready: async () => ({ apiUrl: await node.awaitAgentReady(), token: config.apiToken }) };
}

/**
 * `crmsync init` (node key, config file and API token: founding the cluster, or joining it
 * with `--join CODE`, which names the node), then `crmsync start` on free ports.
 */
async function startCli(options: NodeProcessOptions): Promise<Launched> {
  const membership = options.invitation === undefined ? ['--node-id', options.name] : ['--join', options.invitation];
  const init = await promisify(execFile)(process.execPath, [
    CLI, 'init', '--data-dir', options.dataDir, ...membership, '--listen', '127.0.0.1:0',
    '--api', '127.0.0.1:0', '--peer-token', options.peerToken, '--log-level', 'warn',
  ], { cwd: ROOT, timeout: START_TIMEOUT_MS }).catch((err: Error & { stderr?: string; stdout?: string; killed?: boolean }) => {
    const why = err.killed ? `no answer within ${START_TIMEOUT_MS / 1000} s` : err.message;
    throw new Error(`crmsync init for ${options.name} failed: ${why}\n${err.stdout ?? ''}${err.stderr ?? ''}\n`
      + '(to run the nodes without the CLI: npm run demo -- --launcher agent)', { cause: err });
  });
  // init exits 0 only once its config file is in place. Once (CI, 2026-12-03) `start` found
  // none right after; this tells whether init left none or the file went away later.
  const entries = await readdir(options.dataDir).catch((err: Error) => [`(cannot list: ${err.message})`]);
  if (!entries.includes('crmsync.json')) {
    throw new Error(`crmsync init for ${options.name} exited 0 but ${options.dataDir} holds no crmsync.json `
      + `(it holds: ${entries.join(', ') || 'nothing'})\n${init.stdout}${init.stderr}`);
  }
  const child = spawn(process.execPath, ['--import', GUARD, CLI, 'start', '--data-dir', options.dataDir], spawnOptions);
  const node = new NodeProcess(options.name, child);
  return {
    node,
    ready: async () => {
      const apiUrl = await node.awaitApiUrlFile(options.dataDir);
      return { apiUrl, token: (await readFile(join(options.dataDir, 'api-token'), 'utf8')).trim() };
    },
  };
}
