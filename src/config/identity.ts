/**
 * The node's identity files in its data directory: `node.key` (its Ed25519 private key,
 * which signs everything the node writes) and `invitation` (the code a joining node
 * redeems; kept until the node is a member). Both are private to their owner (0600),
 * and a key file others can read is repaired to 0600 with a warning, like the API token.
 */
// The leaf modules index.ts re-exports: index.js would load the whole engine into `init`.
import { CrmsyncError } from '../errors.js';
import { generateNodeKeys, loadNodeKeys, type NodeKeys } from '../trust/keys.js';
import { ensurePrivate, readIfExists, removeIfExists, writeFileAtomic } from './files.js';

/** The node key in `path`, or undefined when there is none; ERR_VALIDATION naming the file when it is not a node key. */
export async function readNodeKey(path: string, warn: (message: string) => void): Promise<NodeKeys | undefined> {
  const pem = await readIfExists(path);
  if (pem === undefined) return undefined;
  await ensurePrivate(path, warn);
  try {
    return loadNodeKeys(pem);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `${path} does not hold a crmsync node key: ${(err as Error).message}`, {
      cause: err, details: [{ field: 'node.key', message: 'not an Ed25519 private key (PKCS#8 PEM)' }],
    });
  }
}

/** The key in `path`, creating it (0600) when there is none. */
export async function ensureNodeKey(path: string, warn: (message: string) => void): Promise<{ keys: NodeKeys; created: boolean }> {
  const existing = await readNodeKey(path, warn);
  if (existing) return { keys: existing, created: false };
  const keys = generateNodeKeys();
  await writeFileAtomic(path, keys.privateKeyPem, 0o600);
  return { keys, created: true };
}

/** The invitation code kept in `path`, or undefined. */
export async function readInvitation(path: string, warn: (message: string) => void): Promise<string | undefined> {
  const code = await readIfExists(path);
  if (code === undefined) return undefined;
  await ensurePrivate(path, warn);
  return code.trim();
}

/** Keeps an invitation code (it holds a one-time secret: 0600). */
export async function writeInvitation(path: string, code: string): Promise<void> {
  await writeFileAtomic(path, `${code}\n`, 0o600);
}

/** Forgets the invitation once the node is a member. */
export async function removeInvitation(path: string): Promise<void> {
  await removeIfExists(path);
}
