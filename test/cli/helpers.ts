/**
 * Helpers for CLI tests: a recording Io, fresh temp directories, and the real
 * executable as a child process. Waits are on output lines or exits, never sleeps.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../src/cli/io.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO_ROOT, 'bin', 'crmsync.js');

/** An Io that records what a command prints. */
export interface MemoryIo extends Io {
  stdout: string;
  stderr: string;
  /** Log lines `start` wrote (parsed JSON). */
  logs: Record<string, unknown>[];
  /** The same lines as written (JSON.parse hides duplicate keys; duplicateKeys() finds them). */
  rawLogs: string[];
}

/** A recording Io; `env` and `stdin` are what the command sees. */
export function memoryIo(options: { env?: Record<string, string | undefined>; cwd?: string; stdin?: string } = {}): MemoryIo {
  const logStream = new PassThrough();
  const io: MemoryIo = {
    stdout: '', stderr: '', logs: [], rawLogs: [],
    out: (text) => void (io.stdout += text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void (io.stderr += text.endsWith('\n') ? text : `${text}\n`),
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    readStdin: async () => options.stdin ?? '',
    logStream, logIsTTY: false,
  };
  createInterface({ input: logStream }).on('line', (line) => {
    io.rawLogs.push(line);
    io.logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  return io;
}

/**
 * Keys that occur twice in one object of a JSON text (pino writes a child's bindings and
 * the call's fields side by side, so `{"component":"api","component":"events"}` is
 * possible; JSON.parse keeps the last and hides it). Assumes valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  const found: string[] = [];
  const objects: Array<Set<string> | null> = []; // null: an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = objects[objects.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(key)) found.push(key);
        top.add(key);
      }
      expectKey = false;
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === ',') expectKey = objects[objects.length - 1] !== null;
  }
  return found;
}

/** A fresh temp directory and its removal. */
export async function tempDir(prefix = 'crmsync-cli-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Environment for child processes: ours without CRMSYNC_* (a developer's shell may set some). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CRMSYNC_')));
  return { ...env, ...extra };
}

/** Result of one CLI process. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/crmsync.js ...args` to completion. */
export function runCli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(options.env), stdin: options.stdin });
}

/** Runs any program to completion, feeding it `stdin` (default: nothing). */
export function runProcess(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; stdin?: string | undefined }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A `crmsync start` process. */
export interface NodeProcess {
  child: ChildProcessWithoutNullStreams;
  /** The parsed `crmsync ready` log line. */
  ready: { api: string; url: string | null; node: string; pid: number };
  /** Every stderr line so far (JSON log lines: logs go to stderr). */
  lines: string[];
  /** Everything written to stdout so far (nothing: `start` has no output but its logs). */
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How long `startProcess` waits for the `crmsync ready` line (a start on a loaded 2-core machine takes seconds). */
export const START_READY_TIMEOUT_MS = 60_000;

/**
 * Starts `crmsync start ...args` and resolves on its `crmsync ready` log line (so the log
 * level must be info or lower). A process that is not ready within `readyTimeoutMs` is
 * killed and the promise rejects: the caller never got it, so nothing else would.
 */
export function startProcess(args: string[], env: Record<string, string> = {}, readyTimeoutMs = START_READY_TIMEOUT_MS): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });
  const lines: string[] = [];
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crmsync start printed no 'crmsync ready' line within ${readyTimeoutMs} ms (log level above info?):\n${lines.join('\n')}`));
    }, readyTimeoutMs);
    void exited.then(() => clearTimeout(timer));
    createInterface({ input: child.stderr }).on('line', (line) => {
      lines.push(line);
      let entry: { msg?: string } = {};
      try {
        entry = JSON.parse(line) as { msg?: string };
      } catch {
        // Not a log line; the test asserting on the lines will show it.
      }
      if (entry.msg !== 'crmsync ready') return;
      clearTimeout(timer);
      resolve({ child, ready: entry as NodeProcess['ready'], lines, stdout: () => stdout, exited });
    });
    void exited.then(({ code }) => reject(new Error(`crmsync start exited with ${code} before it was ready:\n${lines.join('\n')}\n${stdout}`)));
  });
}

/**
 * Initialises one cluster in-process, none of it started: the first name founds it
 * (`crmsync init`), every other is initialised with `--cluster <founder's key>` and
 * granted by the stopped founder (`crmsync trust add`, role region unless `grants` names
 * another role or a scope for it). `options` are init's for every node (addresses, log level).
 */
export async function initCluster(dataDirs: Record<string, string>, options: Record<string, string> = {},
  grants: Record<string, { role?: string; territory?: string[]; owner?: string[] }> = {}): Promise<Record<string, string>> {
  const [founder, ...members] = Object.keys(dataDirs);
  const { init } = await import('../../src/cli/commands/init.js');
  const { trustAdd } = await import('../../src/cli/commands/trust.js');
  const keys: Record<string, string> = {};
  const first = await init({ dataDir: dataDirs[founder!]!, nodeId: founder!, ...options }, memoryIo());
  keys[founder!] = first.key;
  for (const name of members) {
    const made = await init({ dataDir: dataDirs[name]!, nodeId: name, cluster: first.key, ...options }, memoryIo());
    await trustAdd(made.key, { dataDir: dataDirs[founder!]!, node: name, role: 'region', ...grants[name] }, memoryIo());
    keys[name] = made.key;
  }
  return keys;
}
