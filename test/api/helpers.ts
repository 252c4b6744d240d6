/**
 * Helpers for the HTTP API tests: real nodes (LevelDB in temp dirs), real API servers on
 * 127.0.0.1 port 0, plain fetch; an SSE reader over fetch's body stream; a tiny parser of
 * the Prometheus text format. Waits are on events or vi.waitFor, never sleeps.
 */
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../src/api/server.js';
import type { CrmNode, NodeOptions } from '../../src/index.js';
import { Harness } from '../integration/helpers.js';

/** Token every test server uses. */
export const TOKEN = 'test-token-0123456789';

/** One node with its API server. */
export interface ApiNode {
  node: CrmNode;
  api: ApiServer;
  /** Authorised request; `token: null` sends none, a string sends that one. */
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
}

/** Options of ApiNode.call. */
export interface CallOptions {
  body?: unknown;
  /** Raw body text (sent as application/json). */
  raw?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

/** A response with its body already read. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Owns nodes, API servers and temp directories; cleanup() in afterEach. */
export class ApiHarness {
  private readonly harness = new Harness();
  private readonly servers: ApiServer[] = [];

  /** The harness's test cluster (member() makes a node a member, e.g. an administrator). */
  get cluster(): Harness['cluster'] {
    return this.harness.cluster;
  }

  /** A fresh, empty temp directory (removed by cleanup). */
  tempDir(): Promise<string> {
    return this.harness.tempDir();
  }

  /** Opens a node (listen:false unless given; in a fresh temp dir unless `dataDir` names one) and serves its API. */
  async start(nodeOptions: Partial<NodeOptions> = {}, apiOptions: Partial<ApiServerOptions> = {}): Promise<ApiNode> {
    const node = await this.harness.open({ listen: false, ...nodeOptions, dataDir: nodeOptions.dataDir ?? (await this.harness.tempDir()) });
    const api = await createApiServer(node, { token: TOKEN, ...apiOptions });
    this.servers.push(api);
    return { node, api, call: (method, path, options) => call(api.url, method, path, options) };
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.servers.splice(0).map((s) => s.close()));
    await this.harness.cleanup();
  }
}

/** Sends one request to `base + path`. */
export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** One server-sent event. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** An open event stream: parsed events in arrival order, and a way to wait for more. */
export interface SseStream {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves once the stream has ended (server closed it). */
  readonly ended: Promise<void>;
  /** Resolves with the first event (already received or future) matching `predicate`. */
  waitFor(predicate: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Opens `GET path` as an event stream with fetch (EventSource cannot send headers). */
export async function openStream(base: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}`, ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let waiters: Array<{ predicate: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
  const dispatch = (block: string) => {
    const event: SseEvent = { id: undefined, event: 'message', data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) event.id = line.slice(4);
      else if (line.startsWith('event: ')) event.event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    event.data = data.join('\n');
    events.push(event);
    waiters = waiters.filter((w) => (w.predicate(event) ? (w.resolve(event), false) : true));
  };
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          dispatch(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events, comments, ended,
    waitFor(predicate, timeoutMs = 20_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.length}`)), timeoutMs);
        waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    close: () => abort.abort(),
  };
}

/** The parsed `data` of a change event. */
export function changeOf(event: SseEvent): { localSeq: number; id: string; source: string; origin: string; customer: { name: string } } {
  return JSON.parse(event.data);
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// Values as Prometheus parses them (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan").
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[+-]?(?:nan|inf))$/i;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text; throws on any line that is neither a comment nor a sample. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    const raw = match[3]!.toLowerCase();
    const value = raw === 'nan' ? NaN : raw.endsWith('inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}
