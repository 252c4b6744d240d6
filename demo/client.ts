/**
 * A small typed client for one node's HTTP API (docs/http-api.md): what the story and
 * the dashboard server need. Every call has a timeout; API errors keep their code.
 */
import { createHash } from 'node:crypto';
import type { ConflictInboxItem, FieldConflict, HistoryEntry, NodeStatus, RecordInputLike, RecordPatchLike, RecordView } from '../src/index.js';
import { canonicalJson } from './protocol.js';

/** An error response of the node's API (or a transport failure, with code ERR_UNREACHABLE). */
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A digest of every record a node holds (deleted ones included). */
export interface Snapshot {
  digest: string;
  live: number;
  deleted: number;
}

/** One `change` event of a node's /v1/events stream. */
export interface ChangeEvent {
  localSeq: number;
  id: string;
  source: 'local' | 'remote';
  origin: string;
  time: number;
  customer: RecordView;
}

const TIMEOUT_MS = 15_000;
/** History entries read per record: a record the demo edits has a handful; far below the API maximum. */
const HISTORY_LIMIT = 1000;
/** Concurrent requests while seeding: enough to keep the node busy, bounded so it is not flooded. */
const SEED_CONCURRENCY = 16;

/** The API of one node. */
export class NodeClient {
  constructor(readonly name: string, readonly baseUrl: string, private readonly token: string) {}

  /** Sends a request with the bearer token; returns the raw response (used by the dashboard proxy). */
  async raw(method: string, path: string, init: { body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const signal = init.signal ?? AbortSignal.timeout(TIMEOUT_MS);
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method,
        body: init.body,
        headers: { ...init.headers, authorization: `Bearer ${this.token}` },
        signal,
      });
    } catch (err) {
      throw new ApiError(`${this.name}: ${method} ${path} failed: ${(err as Error).message}`, 0, 'ERR_UNREACHABLE', { cause: err });
    }
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    const res = await this.raw(method, path, { body: body === undefined ? undefined : JSON.stringify(body), headers, signal });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return json as T;
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(`${this.name}: ${method} ${path}: ${error?.message ?? `HTTP ${res.status}`}`, res.status, error?.code ?? 'ERR_HTTP');
  }

  /** The node's status; `signal` can shorten the default timeout (a dashboard poll must not hang on one node). */
  status(signal?: AbortSignal): Promise<NodeStatus> {
    return this.call('GET', '/v1/status', undefined, signal);
  }

  /** The node's OpenAPI document (which routes this engine version offers). */
  openapi(): Promise<unknown> {
    return this.call('GET', '/openapi.json');
  }

  /** A record's change history, oldest first (the first `limit` entries). */
  async history(id: string, limit = HISTORY_LIMIT): Promise<HistoryEntry[]> {
    return (await this.call<{ history: HistoryEntry[] }>('GET', `/v1/customers/${encodeURIComponent(id)}/history?limit=${limit}`)).history;
  }

  /** Dials the member `node` at `url` (a session proving another node id is closed). */
  async addPeer(url: string, node: string): Promise<void> {
    await this.call('POST', '/v1/peers', { url, node });
  }

  /** An invitation code for a new node (POST /v1/trust/invitations; this node must be an administrator). */
  async invite(node: string, role: 'region' | 'laptop'): Promise<string> {
    return (await this.call<{ code: string }>('POST', '/v1/trust/invitations', { node, role })).code;
  }

  async removePeer(url: string): Promise<boolean> {
    return (await this.call<{ removed: boolean }>('DELETE', `/v1/peers?url=${encodeURIComponent(url)}`)).removed;
  }

  async create(input: RecordInputLike): Promise<RecordView> {
    return (await this.call<{ customer: RecordView }>('POST', '/v1/customers', input)).customer;
  }

  /** The record, or null if this node does not have it. */
  async get(id: string): Promise<RecordView | null> {
    try {
      return (await this.call<{ customer: RecordView }>('GET', `/v1/customers/${encodeURIComponent(id)}`)).customer;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  async update(id: string, patch: RecordPatchLike): Promise<RecordView> {
    return (await this.call<{ customer: RecordView }>('PATCH', `/v1/customers/${encodeURIComponent(id)}`, patch)).customer;
  }

  async delete(id: string): Promise<RecordView> {
    return (await this.call<{ customer: RecordView }>('DELETE', `/v1/customers/${encodeURIComponent(id)}`)).customer;
  }

  async restore(id: string): Promise<RecordView> {
    return (await this.call<{ customer: RecordView }>('POST', `/v1/customers/${encodeURIComponent(id)}/restore`)).customer;
  }

  async conflicts(id: string): Promise<FieldConflict[]> {
    return (await this.call<{ conflicts: FieldConflict[] }>('GET', `/v1/customers/${encodeURIComponent(id)}/conflicts`)).conflicts;
  }

  /** The first page (`limit` records) of the node's conflict inbox, filtered by territory and owner. */
  async conflictInbox(filter: { territory?: string; owner?: string }, limit: number): Promise<ConflictInboxItem[]> {
    const params = new URLSearchParams({ ...filter, limit: String(limit) });
    return (await this.call<{ records: ConflictInboxItem[] }>('GET', `/v1/conflicts?${params}`)).records;
  }

  /** Every record matching `query` (all pages). */
  async listAll(query: Record<string, string> = {}): Promise<RecordView[]> {
    const out: RecordView[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ ...query, limit: '1000', ...(cursor ? { cursor } : {}) });
      const page: { customers: RecordView[]; next: string | null } = await this.call('GET', `/v1/customers?${params}`);
      out.push(...page.customers);
      cursor = page.next;
    } while (cursor);
    return out;
  }

  /** Creates every input, at most SEED_CONCURRENCY at a time. */
  async seed(inputs: RecordInputLike[]): Promise<number> {
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) await this.create(inputs[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(SEED_CONCURRENCY, inputs.length) }, worker));
    return inputs.length;
  }

  /** A digest over every record (deleted ones too), comparable across nodes. */
  async snapshot(): Promise<Snapshot> {
    const views = (await this.listAll({ includeDeleted: 'true' })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const digest = createHash('sha256').update(canonicalJson(views)).digest('hex');
    const deleted = views.filter((v) => v.deleted).length;
    return { digest, live: views.length - deleted, deleted };
  }

  /**
   * Streams change events from `since` (a localSeq) until `signal` aborts or the stream
   * ends; the caller resumes with the last localSeq it saw.
   */
  async *events(since: number, signal: AbortSignal): AsyncGenerator<ChangeEvent> {
    const res = await this.raw('GET', `/v1/events?since=${since}`, { headers: { accept: 'text/event-stream' }, signal });
    if (!res.ok || !res.body) throw new ApiError(`${this.name}: event stream: HTTP ${res.status}`, res.status, 'ERR_HTTP');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseSseBlock(block);
        if (event) yield event;
      }
    }
  }
}

/** Parses one SSE block; returns the change event it carries, if any. */
export function parseSseBlock(block: string): ChangeEvent | undefined {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.replace(/\r/g, '').split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (type !== 'change' || data.length === 0) return undefined;
  try {
    return JSON.parse(data.join('\n')) as ChangeEvent;
  } catch {
    return undefined;
  }
}
