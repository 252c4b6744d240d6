/**
 * The event stream and everything that needs two real nodes syncing over WebSockets:
 * a change made on another node arrives on this node's stream; resuming with
 * Last-Event-ID replays what was missed exactly once; replay and live hand over without
 * gaps or duplicates; keep-alives; slow clients are cut off; conflicts over HTTP;
 * peer metrics.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { changeEventData, responses } from '../../src/api/schemas.js';
import { captureLog, testClock, waitForConvergence } from '../integration/helpers.js';
import { ApiHarness, TOKEN, changeOf, openStream, parsePrometheus, type ApiNode, type SseStream } from './helpers.js';

const h = new ApiHarness();
const streams: SseStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await h.cleanup();
});

const listen = { listen: { host: '127.0.0.1', port: 0 } } as const;

/** Node `a` listens for peers; node `b` dials it. */
async function pair(): Promise<{ a: ApiNode; b: ApiNode }> {
  const a = await h.start({ nodeId: 'a', ...listen });
  const b = await h.start({ nodeId: 'b', peers: [a.node.url!] });
  return { a, b };
}

async function stream(node: ApiNode, path = '/v1/events', headers: Record<string, string> = {}): Promise<SseStream> {
  const s = await openStream(node.api.url, path, headers);
  streams.push(s);
  return s;
}

const ids = (s: SseStream) => s.events.map((e) => Number(e.id));
const increasing = (values: number[]) => values.every((v, i) => i === 0 || v > values[i - 1]!);

describe('event stream', () => {
  it('a change made on another node arrives on this node\'s stream', async () => {
    const { a, b } = await pair();
    const events = await stream(b);
    expect(events.status).toBe(200);
    expect(events.contentType).toMatch(/^text\/event-stream/);
    const created = await a.call('POST', '/v1/customers', { body: { name: 'Made in Berlin' } });
    const event = await events.waitFor((e) => changeOf(e).id === created.json.customer.id);
    expect(event.event).toBe('change');
    const data = changeEventData.parse(JSON.parse(event.data));
    expect(data).toMatchObject({ source: 'remote', origin: 'a', customer: { name: 'Made in Berlin' } });
    expect(event.id).toBe(String(data.localSeq));
  });

  it('resuming with Last-Event-ID replays the missed changes exactly once, then goes live', async () => {
    const { a, b } = await pair();
    const first = await stream(b);
    await b.call('POST', '/v1/customers', { body: { id: 'seen', name: 'Seen live' } });
    const lastSeen = (await first.waitFor((e) => changeOf(e).id === 'seen')).id!;
    first.close();

    // Missed while disconnected: three changes made on a (synced to b) and one made on b.
    for (const id of ['m1', 'm2', 'm3']) await a.call('POST', '/v1/customers', { body: { id, name: `Missed ${id}` } });
    await b.call('PATCH', '/v1/customers/seen', { body: { stage: 'won' } });
    await vi.waitFor(async () => expect((await b.call('GET', '/v1/customers/m3')).status).toBe(200), { timeout: 20_000 });

    const resumed = await stream(b, '/v1/events?since=0', { 'Last-Event-ID': lastSeen }); // the header wins
    await b.call('POST', '/v1/customers', { body: { id: 'marker', name: 'Live after resume' } });
    await resumed.waitFor((e) => changeOf(e).id === 'marker');
    const received = resumed.events.map((e) => changeOf(e).id);
    expect(received.slice(0, -1).sort()).toEqual(['m1', 'm2', 'm3', 'seen']);
    expect(received.at(-1)).toBe('marker');
    expect(increasing(ids(resumed))).toBe(true);
    expect(Number(resumed.events[0]!.id)).toBeGreaterThan(Number(lastSeen));
    const seen = resumed.events.find((e) => changeOf(e).id === 'seen')!;
    expect(changeEventData.parse(JSON.parse(seen.data)).customer.stage).toBe('won');
  });

  it('hands over from replay to live without gaps or duplicates while writes continue', async () => {
    const a = await h.start({}, { events: { replayPageSize: 3 } });
    const write = (i: number) => a.call('POST', '/v1/customers', { body: { id: `r${i}`, name: `Record ${i}` } });
    for (let i = 0; i < 20; i++) await write(i);
    const events = await stream(a, '/v1/events?since=0');
    const writing = Promise.all(Array.from({ length: 30 }, (_, i) => write(20 + i)));
    await writing;
    await events.waitFor((e) => Number(e.id) === 50);
    const seqs = ids(events);
    expect(increasing(seqs)).toBe(true);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('a client behind a truncated log gets a reset event first, then the replay from the log\'s start', async () => {
    const time = testClock();
    const a = await h.start({ nodeId: 'a', timers: time, limits: { lifecycleIntervalMs: 50, logRetentionMs: 60_000 } });
    for (const id of ['t1', 't2', 't3']) await a.call('POST', '/v1/customers', { body: { id, name: `Truncated ${id}` } });
    time.advance(120_000);
    await vi.waitFor(async () => expect(a.node.exportFloors().logStart).toBeGreaterThan(3), { timeout: 20_000 });
    await a.call('PATCH', '/v1/customers/t2', { body: { stage: 'won' } });
    const behind = await stream(a, '/v1/events?since=0');
    const changed = await behind.waitFor((e) => e.event === 'change');
    const [reset] = behind.events;
    const { logStart } = a.node.exportFloors();
    expect(reset).toMatchObject({ event: 'reset', id: String(logStart - 1) });
    expect(JSON.parse(reset!.data)).toMatchObject({ logStart, message: expect.stringContaining('reload every record') });
    expect(changeOf(changed)).toMatchObject({ id: 't2' });
    expect(increasing(ids(behind))).toBe(true);
    // A client that read up to the log's start is not told to reset.
    const current = await stream(a, `/v1/events?since=${logStart - 1}`);
    await current.waitFor((e) => e.event === 'change');
    expect(current.events.map((e) => e.event)).toEqual(['change']);
  });

  it('sends keep-alive comments and rejects bad or foreign event ids', async () => {
    const a = await h.start({}, { events: { keepAliveMs: 20 } });
    const events = await stream(a);
    await vi.waitFor(() => expect(events.comments).toContain('keep-alive'));
    const bad = await a.call('GET', '/v1/events', { headers: { 'Last-Event-ID': 'abc' } });
    expect([bad.status, bad.json.error.details[0].field]).toEqual([400, 'Last-Event-ID']);
    const ahead = await a.call('GET', '/v1/events?since=99');
    expect([ahead.status, ahead.json.error.code]).toEqual([400, 'ERR_VALIDATION']);
  });

  it('ends open streams when the server closes', async () => {
    const a = await h.start();
    const events = await stream(a);
    await a.api.close();
    await events.ended;
  });

  it('cuts off a client that stops reading once its buffer exceeds the limit', async () => {
    const log = captureLog();
    const a = await h.start({}, { logger: log.logger, events: { maxBufferedBytes: 64 * 1024 } });
    const url = new URL('/v1/events', a.api.url);
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request(url, { headers: { authorization: `Bearer ${TOKEN}` } }, resolve).on('error', reject).end();
    });
    expect(response.statusCode).toBe(200);
    response.pause(); // never reads: the kernel buffers fill, then the server's own buffer
    const notes = 'n'.repeat(90_000);
    const closed = () => log.lines.some((l) => l.msg === 'event stream closed' && l.reason === 'client too slow');
    for (let i = 0; i < 400 && !closed(); i++) {
      await a.call('POST', '/v1/customers', { body: { id: `big${i}`, name: `Big ${i}`, notes } });
    }
    expect(closed()).toBe(true);
    response.resume();
    await new Promise((resolve) => response.on('close', resolve));
  });
});

describe('two nodes over HTTP', () => {
  it('concurrent edits made apart show up as the same conflict on both nodes; peers and metrics report the session', async () => {
    const a = await h.start({ nodeId: 'a', ...listen });
    const b = await h.start({ nodeId: 'b' });
    await a.call('PUT', '/v1/customers/acme', { body: { name: 'Acme', stage: 'qualified' } });
    await b.call('PUT', '/v1/customers/acme', { body: { name: 'Acme', stage: 'proposal' } });

    expect((await b.call('POST', '/v1/peers', { body: { url: a.node.url, node: 'a' } })).status).toBe(201);
    await waitForConvergence([a.node, b.node]);
    const [onA, onB] = [await a.call('GET', '/v1/customers/acme/conflicts'), await b.call('GET', '/v1/customers/acme/conflicts')];
    expect(onA.json).toEqual(onB.json);
    const conflicts = responses.conflicts.parse(onA.json).conflicts;
    // Both nodes created the record, so `name` was written twice too, but with equal
    // values: that is not a conflict anyone has to resolve.
    expect(conflicts.map((c) => c.field)).toEqual(['stage']);
    const stage = conflicts.find((c) => c.field === 'stage')!;
    expect(stage.values.map((v) => [v.node, v.value]).sort()).toEqual([['a', 'qualified'], ['b', 'proposal']]);
    expect((await a.call('GET', '/v1/customers/acme')).json.customer.conflicts).toContain('stage');

    const peers = responses.peers.parse((await b.call('GET', '/v1/peers')).json).peers;
    expect(peers).toMatchObject([{ node: 'a', url: a.node.url, state: 'connected' }]);

    const samples = parsePrometheus((await b.call('GET', '/metrics')).text);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('crmsync_peer_connected', { peer: 'a' })).toBe(1);
    expect(value('crmsync_peer_bytes_total', { peer: 'a', direction: 'in' })).toBeGreaterThan(0);
    expect(value('crmsync_changes_total', { source: 'remote' })).toBeGreaterThanOrEqual(1);
    expect(value('crmsync_sync_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value('crmsync_conflicted_records')).toBe(1);
    expect(value('crmsync_clock', { origin: 'a' })).toBe(1);
  });
});
