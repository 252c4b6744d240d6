/**
 * One benchmark agent: a child process that runs one crmsync node (or the ws floor
 * sink) and executes the parent's commands over child_process IPC. Timestamps use a
 * clock shared by all processes on this machine: performance.timeOrigin + now().
 */
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { openNode, type CrmNode, type NodeStatus, type RecordChangeEvent, type RecordView } from '../src/index.js';
import { makeRecord, patchOf, recordId, type Edit } from './data.js';

export const now = (): number => performance.timeOrigin + performance.now();

/** Runs fn over items with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let node: CrmNode | undefined;
const need = (): CrmNode => {
  if (!node) throw new Error('node not open');
  return node;
};

// Watches on remote change events (registered before the writer starts).
let idWatch: { seen: Set<string>; target: number; done?: () => void; at: number } | undefined;
/** When this node's index backlog was first seen empty (store/index-backlog.ts), polled from the end of P1 or P2. */
let indexed: Promise<number> | undefined;
/**
 * Polls status every INDEX_POLL_MS until no record waits for its index keys; the time it
 * saw that. `restart`: forget the last watch (a phase that ends starts a new one).
 */
function watchIndexes(restart = false): Promise<number> {
  if (restart) indexed = undefined;
  indexed ??= (async () => {
    while ((await need().status()).records.indexBacklog > 0) await sleep(INDEX_POLL_MS);
    return now();
  })().catch(() => Number.NaN); // a node closed meanwhile: no time to report
  return indexed;
}
/** Often enough to time a backlog of 10,000 (hundreds of ms); one status() call each. */
const INDEX_POLL_MS = 20;
let editWatch: { byId: Map<string, { k: number; edit: Edit }[]>; visibleAt: number[]; left: number; done?: () => void } | undefined;

function onRemote(event: RecordChangeEvent): void {
  if (event.source !== 'remote') return;
  if (idWatch && !idWatch.seen.has(event.id)) {
    idWatch.seen.add(event.id);
    if (idWatch.seen.size >= idWatch.target) {
      idWatch.at = now();
      idWatch.done?.();
    }
  }
  const list = editWatch?.byId.get(event.id);
  if (!editWatch || !list) return;
  const view = event.view as unknown as Record<string, unknown>;
  for (let j = list.length - 1; j >= 0; j--) {
    const { k, edit } = list[j]!;
    if (view[edit.field] !== edit.value) continue;
    editWatch.visibleAt[k] = now();
    list.splice(j, 1);
    if (--editWatch.left === 0) editWatch.done?.();
  }
  if (list.length === 0) editWatch.byId.delete(event.id);
}

/** True when the node has an open session with nothing behind or ahead. */
function settled(status: NodeStatus): boolean {
  return status.peers.some((p) => p.state === 'connected' && p.node !== null && p.stats !== null && p.behind === 0 && p.ahead === 0);
}

async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 1): Promise<number> {
  const deadline = now() + timeoutMs;
  while (!(await check())) {
    if (now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
  return now();
}

// RSS sampled every RSS_SAMPLE_MS in this process (the measure: maxRSS would also
// count a transient spike the sampler might miss, so both are reported).
const RSS_SAMPLE_MS = 100;
let rssPeak = 0;
/** What the RSS held when the peak was sampled: see PeakParts. */
let rssPeakParts: PeakParts = { fileMb: 0, v8HeapMb: 0, v8UsedMb: 0, buffersMb: 0 };

/**
 * Where the memory was at the sampled peak: the file-backed part of RSS (`RssFile` in
 * /proc/self/status: the node binary and libraries, and the pages of LevelDB's table files,
 * which LevelDB maps into memory to read them: the kernel's page cache, shared and
 * reclaimable; 0 where /proc is absent), V8's heap (committed, and in use: live objects
 * plus garbage not yet collected), and the memory of ArrayBuffers and Buffers outside it.
 * The rest is native memory: malloc (LevelDB's memtables and block cache, zlib, the
 * threads' arenas), Automerge's wasm memory, code.
 */
export type PeakParts = { fileMb: number; v8HeapMb: number; v8UsedMb: number; buffersMb: number };

function startRssSampler(): void {
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss <= rssPeak) return;
    rssPeak = rss;
    const m = process.memoryUsage();
    rssPeakParts = { fileMb: fileBackedRss() / 1048576, v8HeapMb: m.heapTotal / 1048576, v8UsedMb: m.heapUsed / 1048576, buffersMb: m.arrayBuffers / 1048576 };
  };
  sample();
  setInterval(sample, RSS_SAMPLE_MS).unref();
}

/** Bytes of RSS backed by files (`RssFile` in /proc/self/status); 0 where /proc is absent. */
function fileBackedRss(): number {
  try {
    const match = /RssFile:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

type Args = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const commands: Record<string, (args: Args) => Promise<unknown>> = {
  async open({ dataDir, member, subscription, limits }) {
    // `member`: the test cluster's options for this node (identity and trust statements); `limits`: overrides (the link phases).
    node = await openNode({ dataDir, ...member, listen: { host: '127.0.0.1', port: 0 }, ...(subscription ? { subscription } : {}), ...(limits ? { limits } : {}) });
    startRssSampler();
    node.onChange(onRemote);
    return { url: node.url, nodeId: node.id };
  },
  /**
   * P1: the public batch API, one durable batch of `batch` records after the other. `ms`
   * is the time spent in `upsertMany` alone: an application has its records at hand, so
   * making the seeded ones (`generateMs`, about 4% of it at 10,000) is not crmsync's time.
   */
  async seed({ n, seed, batch, territories }) {
    const n0 = need();
    const t0 = now();
    let inApi = 0;
    for (let start = 0; start < n; start += batch) {
      const items = [];
      for (let i = start; i < Math.min(n, start + batch); i++) {
        const { id, ...fields } = makeRecord(i, seed) as { id: string } & Record<string, unknown>;
        // `territories`: T0..T(k-1) in turn, so every territory's records are spread over the whole log.
        if (territories) fields.territory = `T${i % territories}`;
        items.push({ id, fields });
      }
      const called = now();
      const results = await n0.records.upsertMany(items);
      inApi += now() - called;
      const bad = results.find((r) => r.status !== 'created');
      if (bad) throw new Error(`seed: ${bad.id} was ${bad.status} (${bad.error?.message ?? ''})`);
    }
    const at = now();
    void watchIndexes(true);
    return { ms: inApi, generateMs: now() - t0 - inApi, at };
  },
  async edits({ edits, concurrency }: { edits: Edit[]; concurrency: number }) {
    const n0 = need();
    const ackAt = new Array<number>(edits.length);
    const t0 = now();
    await pool(edits, concurrency, async (edit, i) => {
      await n0.records.update(edit.id, patchOf(edit));
      ackAt[i] = now();
    });
    return { startAt: t0, ms: now() - t0, ackAt };
  },
  async paced({ edits, intervalMs }: { edits: Edit[]; intervalMs: number }) {
    const n0 = need();
    const ackAt: number[] = [];
    const startAt: number[] = [];
    for (const edit of edits) {
      const t = now();
      startAt.push(t);
      await n0.records.update(edit.id, patchOf(edit));
      ackAt.push(now());
      const wait = intervalMs - (now() - t);
      if (wait > 0) await sleep(wait);
    }
    return { ackAt, startAt };
  },
  async durableWrites({ count, seed, n }) {
    const n0 = need();
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      if (i % 2 === 0) await n0.records.create({ ...makeRecord(n + i, seed), id: `w-${recordId(i)}` });
      else await n0.records.update(recordId(i % n), { title: `durable ${i}` });
      lat.push(performance.now() - t);
    }
    return { lat };
  },
  async watchIds({ target }) {
    idWatch = { seen: new Set(), target, at: 0 };
    return {};
  },
  async waitIds({ timeoutMs }) {
    const w = idWatch!;
    if (w.seen.size < w.target) {
      await Promise.race([new Promise<void>((resolve) => (w.done = resolve)), sleep(timeoutMs)]);
    }
    const live = (await need().status()).records.live;
    idWatch = undefined;
    void watchIndexes(true);
    return { at: w.at, seen: w.seen.size, live };
  },
  async watchEdits({ edits }: { edits: Edit[] }) {
    const byId = new Map<string, { k: number; edit: Edit }[]>();
    edits.forEach((edit, k) => {
      const list = byId.get(edit.id) ?? [];
      list.push({ k, edit });
      byId.set(edit.id, list);
    });
    editWatch = { byId, visibleAt: new Array<number>(edits.length).fill(0), left: edits.length };
    return {};
  },
  async waitEdits({ timeoutMs }) {
    const w = editWatch!;
    if (w.left > 0) await Promise.race([new Promise<void>((resolve) => (w.done = resolve)), sleep(timeoutMs)]);
    editWatch = undefined;
    return { visibleAt: w.visibleAt, missing: w.left };
  },
  status: () => need().status(),
  async views({ ids }: { ids: string[] }) {
    const n0 = need();
    const out: (RecordView | undefined)[] = [];
    for (const id of ids) out.push(await n0.records.get(id));
    return out;
  },
  async addPeer({ url }) {
    const at = now();
    need().addPeer(url);
    return { at };
  },
  async removePeer({ url }) {
    return { removed: need().removePeer(url), at: now() };
  },
  /** Resolves once this node has an open session with 0 behind and 0 ahead. */
  async waitSettled({ timeoutMs, everyMs }) {
    let last: NodeStatus | undefined;
    const at = await pollUntil(async () => settled((last = await need().status())), timeoutMs, everyMs ?? 1);
    return { at, status: last };
  },
  /** Until no record waits for its index keys (store/index-backlog.ts). */
  async waitIndexed({ timeoutMs }) {
    const at = await Promise.race([watchIndexes(), sleep(timeoutMs).then(() => { throw new Error(`indexes not whole within ${timeoutMs} ms`); })]);
    return { at };
  },
  async waitNoSession({ timeoutMs }) {
    const at = await pollUntil(async () => (await need().status()).peers.every((p) => p.state !== 'connected' || p.stats === null), timeoutMs, 5);
    return { at };
  },
  async usage() {
    const u = process.resourceUsage();
    return { cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssKb: u.maxRSS, sampledPeakMb: rssPeak / 1048576, peak: rssPeakParts };
  },
  /** Forgets the sampled peak (a phase that wants its own peak); replies with the RSS now. */
  async resetRss() {
    rssPeak = 0;
    rssPeakParts = { fileMb: 0, v8HeapMb: 0, v8UsedMb: 0, buffersMb: 0 };
    const m = process.memoryUsage();
    return { rssMb: m.rss / 1048576, v8HeapMb: m.heapTotal / 1048576 };
  },
  async close() {
    await node?.close();
    node = undefined;
    return {};
  },
  async exit() {
    setTimeout(() => process.exit(0), 10);
    return {};
  },
  /** Floor: a ws server that replies once `bytes` have arrived. */
  async wsSink({ bytes }) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1 << 20 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    server.on('connection', (socket) => {
      let got = 0;
      socket.on('message', (data: Buffer) => {
        got += data.length;
        if (got >= bytes) {
          socket.send(Buffer.from([1]));
          socket.close();
          server.close();
        }
      });
    });
    const address = server.address() as { port: number };
    return { url: `ws://127.0.0.1:${address.port}` };
  },
};

process.on('message', (msg: { id: number; cmd: string; args: Args }) => {
  const fn = commands[msg.cmd];
  const reply = (body: object) => process.send?.({ id: msg.id, ...body });
  if (!fn) return reply({ ok: false, error: `unknown command ${msg.cmd}` });
  fn(msg.args ?? {}).then(
    (result) => reply({ ok: true, result }),
    (err: unknown) => reply({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
  );
});
// The parent went away (crash, ctrl-C): do not linger.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
