/**
 * `crmsync start` child processes for integration tests that run nodes as users run
 * them: start one on a data directory `init` wrote, call its HTTP API with its token,
 * SIGKILL it like a laptop that loses power, and clean up after each test (`cleanup`
 * in afterEach).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call, type Reply } from '../api/helpers.js';
import { startProcess, tempDir, type NodeProcess } from '../cli/helpers.js';

/** A running `crmsync start` with its API's address and token. */
export interface Running {
  proc: NodeProcess;
  api: string;
  token: string;
}

const dirs: Array<{ remove(): Promise<void> }> = [];
const running: NodeProcess[] = [];

/** SIGKILL: no shutdown, as a laptop that loses power. */
export async function kill(proc: NodeProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

/** `crmsync start -d dataDir ...args`, with the API token `init` wrote there; killed by cleanup(). */
export async function start(dataDir: string, args: string[] = []): Promise<Running> {
  const proc = await startProcess(['-d', dataDir, ...args]);
  running.push(proc);
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
  return { proc, api: proc.ready.api, token };
}

/** A temporary directory removed by cleanup(). */
export async function scratch(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  dirs.push(dir);
  return dir.path;
}

/** One authorised API request. */
export function request(node: Running, method: string, path: string, body?: unknown): Promise<Reply> {
  return call(node.api, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
}

/** Kills every process started and removes every directory made since the last cleanup. */
export async function cleanup(): Promise<void> {
  for (const proc of running.splice(0)) await kill(proc);
  await Promise.all(dirs.splice(0).map((d) => d.remove()));
}
