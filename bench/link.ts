/**
 * `--phases link` (with `--link 10mbit,40ms`): what a laptop on a slow link sees. B dials A
 * through a shaped proxy (slow-link.ts) and takes in A's N records (P2), then live edits,
 * an idle reconnect and a reconnect after offline edits on both sides (P4) cross the same
 * link. Then A is reopened with its catch-up frames left plain (`minDeflateFrameBytes`
 * above `maxFrameBytes`) and a fresh node C takes the same records through a link of the
 * same kind: issue 9 asks whether compressing batch frames pays on such a link, measured,
 * not computed. Each row's floor is the link's own: the bytes that crossed it at its
 * rate, plus one round trip.
 */
import { DEFAULT_LIMITS } from '../src/limits.js';
import type { Usage } from './fanout.js';
import type { Agent } from './ipc.js';
import { editPropagation, idleReconnect, offlineEdits, type Pair } from './phases.js';
import { startSlowLink, type LinkSpec, type SlowLink } from './slow-link.js';
import { bytes, int, ms, percentile, rate, type Row } from './table.js';

/** What the link phases need from the bench. */
export interface LinkContext {
  A: Agent;
  B: Agent;
  /** A third node, not opened yet, for the plain-frames catch-up. */
  C: Agent;
  aUrl: string;
  dirA: string;
  dirC: string;
  memberA: object;
  memberC: object;
  n: number;
  spec: LinkSpec;
  push: (row: Row) => void;
  log: (msg: string) => void;
}

/** The url of `url`'s node through a link listening on `port`. */
const through = (url: string, port: number) => {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
};

/** Time for `count` bytes at the link's rate plus one round trip: what the link alone takes. */
const floorMs = (spec: LinkSpec, count: number) => (count * 8 * 1000) / spec.bitsPerSecond + spec.rttMs;

/** A catch-up of every record by `node` through a new link to the node at `url`; false when incomplete. */
async function catchUp(node: Agent, url: string, ctx: LinkContext, label: string): Promise<{ ok: boolean; link: SlowLink; linkUrl: string }> {
  const { n, spec } = ctx;
  const link = await startSlowLink(Number(new URL(url).port), spec);
  const linkUrl = through(url, link.port);
  await node.call('watchIds', { target: n });
  const cpuBefore = await node.call<Usage>('usage');
  const { at } = await node.call<{ at: number }>('addPeer', { url: linkUrl });
  // A megabit a second moves about 7 MiB a minute: give the plain transfer room.
  const seen = await node.call<{ at: number; seen: number; live: number }>('waitIds', { timeoutMs: Math.max(120_000, n * 20) });
  const took = seen.at - at;
  const cpu = (await node.call<Usage>('usage')).cpuMs - cpuBefore.cpuMs;
  const moved = link.bytes.down + link.bytes.up;
  const ok = seen.seen === n && seen.live === n;
  if (!ok) ctx.log(`link: ${label}: ${seen.live} live records, ${seen.seen} ids seen; expected ${n}`);
  ctx.push([`   ${label}`, `${int(seen.live)}/${int(n)} readable; ${bytes(link.bytes.down)} down, ${bytes(link.bytes.up)} up; its CPU ${ms(cpu)}`,
    ok ? ms(took) : 'INCOMPLETE', rate(n, took, ' rec/s'), `floor ${ms(floorMs(spec, moved))}`, '', '-']);
  return { ok, link, linkUrl };
}

/** Runs the link phases; false when a correctness check failed. */
export async function linkPhases(ctx: LinkContext): Promise<boolean> {
  const { A, B, C, n, spec, push, log } = ctx;
  const rateText = `${spec.bitsPerSecond >= 1e6 ? `${spec.bitsPerSecond / 1e6} Mbit/s` : `${spec.bitsPerSecond / 1e3} kbit/s`}, round trip ${spec.rttMs} ms`;
  push([`LINK ${rateText}`, 'B dials A through a shaped proxy; floor: the bytes at the rate, plus a round trip', '-', '-', '-', '', '-']);

  log(`link: B takes ${int(n)} records through the link, catch-up frames deflated`);
  const deflated = await catchUp(B, ctx.aUrl, ctx, 'P2 initial sync, deflated frames');
  let ok = deflated.ok;
  await Promise.all([A.call('waitSettled', { timeoutMs: 120_000 }), B.call('waitSettled', { timeoutMs: 120_000 })]);

  log('link: live edits and an idle reconnect through the link');
  const pair: Pair = { A, B, aUrl: deflated.linkUrl, n };
  const before = { ...deflated.link.bytes };
  const edits = await editPropagation(pair, 200, 50, 20);
  if (edits.burstMissing || edits.pacedMissing) {
    ok = false;
    log(`link: ${edits.burstMissing} burst edits and ${edits.pacedMissing} paced edits never became visible at B`);
  }
  const down = deflated.link.bytes.down - before.down;
  push(['   200 awaited edits on A -> visible at B', `${int(down / 250)} B down per edit (these and the 50 paced)`, ms(edits.burstMs), rate(200, edits.burstMs, ' edits/s'), '-', '', '-']);
  push(['   50 paced edits (every 20 ms)', 'call start on A -> event at B', `p50 ${ms(percentile(edits.latencies, 50))}`, `p99 ${ms(percentile(edits.latencies, 99))}`,
    `floor ${ms(spec.rttMs / 2)}`, '', '-']);
  const p5 = await idleReconnect(pair);
  push(['   P5 idle reconnect', 'addPeer -> both open, 0 behind', ms(p5.ms), `${(p5.ms / spec.rttMs).toFixed(1)} round trips`, '-', '', '-']);
  // The laptop's usual day: offline edits on both sides, then back on the link.
  const offline = await offlineEdits(pair, 1000, log);
  if (!offline.pass) {
    ok = false;
    log(`link: P4 through the link failed: ${offline.problems.slice(0, 3).join('; ')}`);
  }
  push(['   P4 1,000+1,000 offline edits, reconnect', `clocks equal; ${bytes(offline.wire.ab)} down, ${bytes(offline.wire.ba)} up`, ms(offline.convergeMs),
    offline.pass ? 'PASS' : 'FAIL', `floor ${ms(floorMs(spec, offline.wire.ab + offline.wire.ba))}`, offline.pass ? '' : 'FAIL', '-']);
  await B.call('removePeer', { url: deflated.linkUrl });
  await deflated.link.close();

  log('link: A reopened with plain catch-up frames; a fresh C takes the records through the link');
  await A.call('close');
  const { url } = await A.call<{ url: string }>('open', {
    dataDir: ctx.dirA, member: ctx.memberA, limits: { minDeflateFrameBytes: DEFAULT_LIMITS.maxFrameBytes + 1 },
  });
  await C.call('open', { dataDir: ctx.dirC, member: ctx.memberC });
  const plain = await catchUp(C, url, ctx, 'P2 initial sync, plain frames');
  ok &&= plain.ok;
  await C.call('removePeer', { url: plain.linkUrl });
  await plain.link.close();
  return ok;
}
