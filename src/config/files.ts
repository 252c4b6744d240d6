/**
 * The files crmsync keeps in a data directory, and the small file helpers the CLI and
 * the config loader share (atomic writes, private modes, pid liveness).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CrmsyncError } from '../errors.js';

/** Paths inside a data directory. */
export interface DataDirPaths {
  dataDir: string;
  /** The LevelDB database of the node. */
  db: string;
  /** Default config file (`crmsync init` writes it). */
  config: string;
  /** Bearer token of the HTTP API (mode 0600). */
  apiToken: string;
  /** Pid of the running `crmsync start` (removed on clean shutdown). */
  pid: string;
  /** Actual URL of the running node's HTTP API (removed on clean shutdown). */
  apiUrl: string;
  /** The node's Ed25519 private key (PKCS#8 PEM, mode 0600), written by `init`. */
  nodeKey: string;
  /** An invitation code kept until the node is a member of its cluster (mode 0600). */
  invitation: string;
  /** The certificate the running API presents over HTTPS (clients on this machine pin it). */
  apiCert: string;
}

/** The well-known files of a data directory. */
export function dataDirPaths(dataDir: string): DataDirPaths {
  return {
    dataDir,
    db: join(dataDir, 'db'),
    config: join(dataDir, 'crmsync.json'),
    apiToken: join(dataDir, 'api-token'),
    pid: join(dataDir, 'crmsync.pid'),
    apiUrl: join(dataDir, 'api-url'),
    nodeKey: join(dataDir, 'node.key'),
    invitation: join(dataDir, 'invitation'),
    apiCert: join(dataDir, 'api-cert.pem'),
  };
}

/** Writes a file so readers see the old content or the new one, never half of it; owner-only unless `mode` says otherwise. */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode });
    // The umask may have cleared bits of `mode` but never adds any; chmod makes it exact.
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new CrmsyncError('ERR_STORAGE', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The file's content, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CrmsyncError('ERR_STORAGE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Removes a file; a missing file is fine. */
export async function removeIfExists(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Creates a directory owner-only (0700): data directories hold customer data and secrets. */
export async function makePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/**
 * Checks that a file holding a secret is readable by its owner only; if group or
 * others have access, warns and repairs it to 0600 (or says how to, if that fails).
 */
export async function ensurePrivate(path: string, warn: (message: string) => void): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const octal = mode.toString(8).padStart(4, '0');
  try {
    await chmod(path, 0o600);
    warn(`${path} was accessible to other users (mode ${octal}); changed it to 0600. Anyone who could read it may know the secret: consider replacing it.`);
  } catch (err) {
    warn(`${path} is accessible to other users (mode ${octal}) and could not be changed (${(err as Error).message}); run: chmod 600 ${path}`);
  }
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
