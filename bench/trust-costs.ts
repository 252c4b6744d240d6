/**
 * What trust costs (issue 8), measured in the bench's own process: verifying a received
 * entry (the chain step: SHA-256 of the change and of the link, plus one Ed25519
 * verification per signed run of `signEveryEntries`), and the handshake on loopback
 * (hello, both proofs, open) between two real nodes, from addPeer to an open session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainNext, chainStart, entrySigningInput } from '../src/crdt/origin-clock.js';
import { changeDigest } from '../src/engine/entry-check.js';
import { openNode } from '../src/index.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { createTestCluster } from '../src/testing.js';
import { generateNodeKeys, SignatureVerifier } from '../src/trust/keys.js';
import { percentile } from './table.js';

/** µs per received entry for the chain and signature checks, over `changes` (real change-sized bytes). */
export function verificationCostPerEntry(changes: Uint8Array[]): { perEntryUs: number; hashUs: number; verifyUs: number } {
  const keys = generateNodeKeys();
  const verifier = new SignatureVerifier();
  const every = DEFAULT_LIMITS.signEveryEntries;
  // The sender's work, done beforehand: chain and a signature every `every` entries.
  let chain = chainStart('bench-cluster', 'origin');
  const sigs: (Uint8Array | undefined)[] = [];
  const chains: string[] = [];
  changes.forEach((change, i) => {
    chain = chainNext(chain, { seq: i + 1, record: `r${i}` }, changeDigest(change));
    chains.push(chain);
    sigs.push((i + 1) % every === 0 || i === changes.length - 1 ? keys.sign(entrySigningInput(chain)) : undefined);
  });
  const t0 = performance.now();
  let check = chainStart('bench-cluster', 'origin');
  for (let i = 0; i < changes.length; i++) check = chainNext(check, { seq: i + 1, record: `r${i}` }, changeDigest(changes[i]!));
  const t1 = performance.now();
  let ok = check === chain;
  for (let i = 0; i < changes.length; i++) {
    const sig = sigs[i];
    if (sig) ok = verifier.verify(keys.publicKey, entrySigningInput(chains[i]!), sig) && ok;
  }
  const t2 = performance.now();
  if (!ok) throw new Error('bench: the chain or a signature did not verify');
  const n = changes.length;
  return { perEntryUs: ((t2 - t0) * 1000) / n, hashUs: ((t1 - t0) * 1000) / n, verifyUs: ((t2 - t1) * 1000) / Math.ceil(n / every) };
}

/** Median handshake on loopback over `rounds` reconnects between two real nodes. */
export async function handshakeMs(rounds = 20): Promise<{ p50: number; p99: number }> {
  const cluster = createTestCluster();
  cluster.member('hs-a');
  const memberB = cluster.member('hs-b');
  const dirs = [mkdtempSync(join(tmpdir(), 'crmsync-hs-')), mkdtempSync(join(tmpdir(), 'crmsync-hs-'))];
  const a = await openNode({ dataDir: dirs[0]!, ...cluster.member('hs-a'), listen: { host: '127.0.0.1', port: 0 } });
  const b = await openNode({ dataDir: dirs[1]!, ...memberB, listen: { host: '127.0.0.1', port: 0 } });
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      b.addPeer(a.url!);
      while (!(await b.status()).peers.some((p) => p.state === 'connected' && p.node === 'hs-a')) await new Promise((r) => setImmediate(r));
      times.push(performance.now() - t);
      b.removePeer(a.url!);
      while ((await a.status()).peers.some((p) => p.state === 'connected')) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
