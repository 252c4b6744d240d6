/**
 * Where an import writes: the ImportSink port, with two adapters: directly into a
 * CrmNode (a stopped node's data directory opened by the CLI, or a node in a test)
 * and over HTTP to a running node's API (POST /v1/import/batch, docs/http-api.md).
 */
import { CrmsyncError, type CrmNode, type ErrorCode, type FieldIssue, type RecordPatchLike, type RecordView, type UpsertResult } from '../../index.js';
import { API_BODY_LIMIT_BYTES, postInBatches } from './http-batches.js';

/** One record of a batch. */
export interface SinkItem {
  id: string;
  fields: RecordPatchLike;
}

/** Outcome of one item (the wire shape of the bulk route). */
export interface SinkResult {
  id: string;
  status: 'created' | 'updated' | 'unchanged' | 'rejected';
  error?: { code: string; message: string; details?: FieldIssue[] };
}

/** An upsertMany result in its wire shape: the error as plain JSON, the record view left out. */
export function sinkResult(result: Pick<UpsertResult, 'id' | 'status' | 'error'>): SinkResult {
  const { error } = result;
  if (!error) return { id: result.id, status: result.status };
  return { id: result.id, status: result.status, error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/** What an import needs from a node. */
export interface ImportSink {
  /** Writes a batch and `state` as ONE atomic, durable commit; results in item order. */
  upsertMany(items: SinkItem[], options: { author: string; state: Record<string, unknown> }): Promise<SinkResult[]>;
  getState(key: string): Promise<unknown>;
  /** The record's current view (dry runs compare against it), or undefined. */
  get(id: string): Promise<RecordView | undefined>;
  /** Releases what the sink opened (a node it opened itself). */
  close(): Promise<void>;
}

/** A sink over an open node; `ownsNode` closes it with the sink. */
export function nodeSink(node: CrmNode, options: { ownsNode?: boolean } = {}): ImportSink {
  return {
    async upsertMany(items, { author, state }) {
      return (await node.records.upsertMany(items, { author, state })).map(sinkResult);
    },
    getState: (key) => node.getState(key),
    get: (id) => node.records.get(id),
    close: async () => {
      if (options.ownsNode) await node.close();
    },
  };
}

/** Options of the HTTP sink. */
export interface HttpSinkOptions {
  /** Per-request timeout (default 120 s: a batch of new records takes a while). */
  timeoutMs?: number;
  /** The node's request body limit (default API_BODY_LIMIT_BYTES); requests are kept under it. */
  maxBodyBytes?: number;
  fetch?: typeof fetch;
}

/** A sink over a running node's HTTP API. */
export function httpSink(baseUrl: string, token: string, options: HttpSinkOptions = {}): ImportSink {
  const fetchImpl = options.fetch ?? fetch;
  const base = baseUrl.replace(/\/+$/, '');
  /** A request; `body` is JSON text. A 413 comes back as a status when `tooLarge` is 'status'. */
  async function call<T>(method: string, path: string, body?: string, tooLarge?: 'status'): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await fetchImpl(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
      });
    } catch (err) {
      const code: ErrorCode = (err as Error).name === 'TimeoutError' ? 'ERR_TIMEOUT' : 'ERR_CLOSED';
      throw new CrmsyncError(code, `cannot reach the node at ${base}: ${(err as Error).message}`, { cause: err });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch (err) {
      // Not our API answering (a proxy's error page, another service on that port).
      throw new CrmsyncError('ERR_PROTOCOL', `${method} ${path}: HTTP ${response.status} with a body that is not JSON`, { cause: err });
    }
    if (response.status === 404 && method === 'GET' && path.startsWith('/v1/customers/')) return { status: 404, body: undefined as T };
    if (response.status === 413 && tooLarge === 'status') return { status: 413, body: undefined as T };
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: FieldIssue[] } } | undefined)?.error;
      const code = (error?.code ?? 'ERR_STORAGE') as ErrorCode;
      throw new CrmsyncError(code, `${method} ${path}: ${error?.message ?? `HTTP ${response.status}`}`, error?.details ? { details: error.details } : {});
    }
    return { status: response.status, body: parsed as T };
  }
  return {
    upsertMany(items, { author, state }) {
      return postInBatches(items, author, state, options.maxBodyBytes ?? API_BODY_LIMIT_BYTES, async (body, count) => {
        const answer = await call<{ results: SinkResult[] }>('POST', '/v1/import/batch', body, 'status');
        if (answer.status === 413) return { status: 413 };
        if (!Array.isArray(answer.body.results) || answer.body.results.length !== count) {
          throw new CrmsyncError('ERR_PROTOCOL', `the node answered ${answer.body.results?.length ?? 'no'} results for ${count} items`);
        }
        return { status: 200, results: answer.body.results };
      });
    },
    async getState(key) {
      const { body } = await call<{ value: unknown }>('GET', `/v1/import/state/${encodeURIComponent(key)}`);
      return body.value ?? undefined;
    },
    async get(id) {
      const { status, body } = await call<{ customer: RecordView }>('GET', `/v1/customers/${encodeURIComponent(id)}`);
      return status === 404 ? undefined : body.customer;
    },
    close: async () => {},
  };
}
