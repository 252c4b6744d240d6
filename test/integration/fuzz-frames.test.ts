/**
 * The seeded frame fuzzer (issue 8): MessagePack-aware mutations (test/support/
 * frame-mutator.ts) of real frames — hello, auth, open and error before the handshake;
 * changes, have, ack, resync, trust and error after it — at least FUZZ_FRAMES per run.
 * A share of them goes over real sockets to a node in its own process, in bursts (the
 * node handles a connection's frames in order until the first it refuses; every burst
 * ends with a frame that is sure to close it); the rest goes through decodeMessage
 * directly. The run passes when nothing crashed (the process is alive and answers, the
 * codec threw nothing but its own error codes), an honest peer's edits kept arriving
 * throughout, and the node's RSS grew less than FUZZ_RSS_BOUND. The seed is printed on
 * failure; CRMSYNC_FUZZ_SEED=<seed> replays a run's frames.
 */
import { deflateRawSync } from 'node:zlib';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { CrmsyncError } from '../../src/errors.js';
import { decodeMessage } from '../../src/sync/codec.js';
import { FrameMutator } from '../support/frame-mutator.js';
import { MemberDocs, atomic } from '../support/member-docs.js';
import { honestRoundTrip, memoryOf, statusOf } from '../support/process-probe.js';
import { rawPeer } from '../support/raw-peer.js';
import { Prng } from '../sim/prng.js';
import { Harness } from './helpers.js';

const SEED = Number(process.env.CRMSYNC_FUZZ_SEED ?? 0x1550_0008);
/** Frames per run, over sockets and through the codec together. */
const FUZZ_FRAMES = 100_000;
/** Connections per lane; each carries one burst. */
const CONNECTIONS_PER_LANE = 150;
/** Lanes sending at once: half before the handshake, half after. */
const LANES = 4;
const BURST = 24;
/** What the whole run may add to the node process's RSS. */
const FUZZ_RSS_BOUND = 192 * 1024 * 1024;
const MAX_FRAME = 4 * 1024 * 1024;
/** Codes the codec may throw; anything else thrown is a crash. */
const CODEC_CODES = ['ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE', 'ERR_PROTOCOL_VERSION'];
/** Ends a burst: 0xc1 is never valid MessagePack, so the node closes with 1002 once it got there. */
const CLOSER = Uint8Array.of(0xc1);

const h = new Harness();
afterEach(() => h.cleanup());

/** The real frames the mutations start from. */
interface Corpus {
  before: Uint8Array[];
  after: Uint8Array[];
}

/** Real frames: a member's handshake as sent, and what a member sends after it (its own signed entries among them). */
async function corpusFrom(url: string): Promise<Corpus> {
  const member = h.cluster.member('fuzzer');
  const peer = await rawPeer(url, member);
  const [hello, auth, open] = peer.sent;
  await peer.next((m) => m.type === 'changes'); // the node's catch-up, entries it signed
  const nodeOpen = peer.received.find((m) => m.type === 'open')!;
  const docs = new MemberDocs('fuzzer');
  const changes = ['f1', 'f2'].map((id) => ({ record: id, change: docs.write(id, (d) => { d.id = atomic(id); d.name = atomic(`Fuzz ${id}`); d.createdAt = 1; d.updatedAt = 1; }) }));
  const entries = peer.entries(changes, { signEach: true });
  const relayed = peer.frames.filter((_, i) => peer.received[i]!.type === 'changes').slice(0, 2);
  const error = pack({ type: 'error', code: 'ERR_PROTOCOL', message: 'fuzz' });
  peer.ws.terminate();
  docs.close();
  return {
    before: [hello!, auth!, open!, error],
    after: [
      pack({ type: 'changes', epoch: 0, batch: 1, entries }),
      // The same batch deflated (src/sync/frame-deflate.ts): mutations reach the inflater.
      pack({ type: 'deflated', data: deflateRawSync(pack({ type: 'changes', epoch: 0, batch: 1, entries })) }),
      ...relayed,
      pack({ type: 'have', clock: nodeOpen.clock }),
      pack({ type: 'ack', batch: 1, clock: nodeOpen.clock }),
      pack({ type: 'resync', epoch: 1, clock: nodeOpen.clock, trust: nodeOpen.trust }),
      pack({ type: 'trust', statements: member.cluster.statements }),
      error,
    ],
  };
}

/** One lane: CONNECTIONS_PER_LANE connections, each a burst of mutated frames; returns the frames it sent. */
async function lane(url: string, corpus: Corpus, rng: Prng, index: number): Promise<number> {
  const mutator = new FrameMutator(rng);
  const afterHandshake = index % 2 === 1;
  // A member of its own per lane: two sessions of one member would close each other as duplicates.
  const member = h.cluster.member(`fuzzer-${index}`);
  let sent = 0;
  for (let c = 0; c < CONNECTIONS_PER_LANE; c++) {
    const peer = await rawPeer(url, member, { handshake: afterHandshake });
    const base = afterHandshake ? corpus.after : corpus.before;
    for (let i = 0; i < BURST; i++) peer.sendRaw(mutator.mutate(rng.pick(base)));
    peer.sendRaw(CLOSER);
    sent += BURST;
    await peer.closed;
  }
  return sent;
}

/** Decodes `n` mutated frames in-process; returns how many. Throws on anything but the codec's own errors. */
function decodeMany(corpus: Corpus, rng: Prng, n: number): number {
  const mutator = new FrameMutator(rng);
  for (let i = 0; i < n; i++) {
    const handshake = rng.chance(0.5);
    const frame = mutator.mutate(rng.pick(handshake ? corpus.before : corpus.after));
    try {
      decodeMessage(frame, MAX_FRAME, handshake);
    } catch (err) {
      if (!(err instanceof CrmsyncError) || !CODEC_CODES.includes(err.code)) {
        throw new Error(`frame ${i} (seed ${SEED}) made the codec throw ${String(err)}: ${Buffer.from(frame).toString('base64').slice(0, 400)}`, { cause: err });
      }
    }
  }
  return n;
}

describe('frame fuzzer', () => {
  it(`${FUZZ_FRAMES} mutated frames before and after the handshake: no crash, honest edits keep arriving, RSS bounded`, async () => {
    onTestFailed(() => console.error(`frame fuzzer seed: ${SEED} (replay with CRMSYNC_FUZZ_SEED=${SEED})`));
    const rng = new Prng(SEED);
    const proc = await h.spawn(await h.tempDir(), 'a');
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [proc.url] });
    proc.send({ op: 'create', n: 20, prefix: 'seed' });
    await honestRoundTrip(proc, b);
    const corpus = await corpusFrom(proc.url);
    expect(corpus.after.length).toBeGreaterThanOrEqual(7); // the node's own changes frame is in it
    const baseline = await memoryOf(proc);

    let lanesDone = false;
    let honestRounds = 0;
    const honest = (async () => {
      while (!lanesDone || honestRounds < 2) {
        await honestRoundTrip(proc, b);
        honestRounds++;
      }
    })();
    const sentOverSockets = await Promise.all(Array.from({ length: LANES }, (_, i) => lane(proc.url, corpus, rng.fork(i), i)))
      .then((counts) => counts.reduce((sum, n) => sum + n, 0))
      .finally(() => { lanesDone = true; });
    await honest;
    const decoded = decodeMany(corpus, rng.fork(LANES), FUZZ_FRAMES - sentOverSockets);

    expect(sentOverSockets + decoded).toBeGreaterThanOrEqual(FUZZ_FRAMES);
    expect(sentOverSockets, 'a substantial share over real sockets').toBeGreaterThanOrEqual(FUZZ_FRAMES / 10);
    expect(honestRounds).toBeGreaterThanOrEqual(2);
    // Alive, answering, and it logged no crash of a handler.
    expect(proc.child.exitCode, `node process exited; stderr: ${proc.stderr().slice(-2000)}`).toBeNull();
    const status = await statusOf(proc);
    expect(status.rejectedConnections).toBeGreaterThan(0);
    // Frames after the handshake reached the parser: kinds the mutations invented were ignored, as the versioning policy says.
    expect(status.unknownMessages).toBeGreaterThan(0);
    expect(proc.stderr()).not.toMatch(/fatal|handler threw|uncaught/i);
    const memory = await memoryOf(proc);
    expect(memory.peakRss - baseline.rss, `RSS growth during the run (bound ${FUZZ_RSS_BOUND / 2 ** 20} MiB, seed ${SEED})`).toBeLessThan(FUZZ_RSS_BOUND);
    await honestRoundTrip(proc, b);
    if (process.env.CRMSYNC_ATTACK_MEASURE) console.info(JSON.stringify({ seed: SEED, sentOverSockets, decoded, honestRounds, baseline, memory, status: { rejected: status.rejectedConnections, unknown: status.unknownMessages } }));
  }, 180_000);
});
