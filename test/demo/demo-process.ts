/**
 * Runs `node dist/demo/run.js …` — the compiled demo that `npm run demo` runs (the
 * vitest global setup builds it) — as a real child process in its own process group,
 * so a test can interrupt it the way Ctrl-C does. (Not through npm: npm dies of the
 * SIGINT itself and would hide the demo's exit code.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = join(ROOT, 'dist', 'demo', 'run.js');

/** A running demo. */
export interface DemoProcess {
  child: ChildProcess;
  /** Everything it printed to stdout so far. */
  stdout(): string;
  /** Everything it printed to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the process and its pipes are closed. */
  closed: Promise<number | null>;
  /** Resolves with the first stdout match of `pattern`; rejects if the demo exits or `timeoutMs` passes first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Sends SIGINT to the demo's process group (as Ctrl-C in a terminal) and waits for the exit code. */
  interrupt(): Promise<number | null>;
  /** Closes the reading end of the demo's stdout, as `npm run demo | head` does once head has its lines. */
  closeStdout(): void;
}

/** Starts the demo with `args`. */
export function startDemo(args: string[]): DemoProcess {
  const child = spawn(process.execPath, [DEMO, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  let exitCode: number | null | undefined;
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve((exitCode = code)));
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    closed,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (!match) return;
          done();
          resolve(match);
        };
        const onClose = (code: number | null) => {
          done();
          reject(new Error(`the demo exited (${code}) before printing ${pattern}:\n${out}\n${err}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`the demo did not print ${pattern} within ${timeoutMs / 1000} s:\n${out}\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.off('close', onClose);
        };
        child.stdout!.on('data', check);
        child.once('close', onClose);
        check();
        if (exitCode !== undefined) onClose(exitCode);
      });
    },
    closeStdout() {
      child.stdout!.destroy();
    },
    async interrupt() {
      if (child.pid && running()) process.kill(-child.pid, 'SIGINT');
      return closed;
    },
  };
}

/** The temp data directory and node pids a demo printed while starting. */
export function startedNodes(stdout: string): { dataDir: string | undefined; pids: number[] } {
  const dataDir = /\(data under (\S+)\)/.exec(stdout)?.[1];
  const pids = [...stdout.matchAll(/^ {3}(?:berlin|london|newyork|laptop-\w+) +(\d+) +http/gm)].map((m) => Number(m[1]));
  return { dataDir, pids };
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
