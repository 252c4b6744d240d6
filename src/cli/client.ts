/**
 * A small typed client of the HTTP API (docs/http-api.md). Error responses become
 * CrmsyncErrors with the same code and details; an unreachable node becomes a
 * NotRunningError (exit 3).
 */
import { CrmsyncError } from '../errors.js';
import type {
  AntiEntropyResult, ConflictInboxItem, ErasureView, ErrorCode, FieldConflict, FieldIssue, HistoryEntry, NodeStatus, PeerStatus, RecordInputLike, RecordPatchLike, RecordView,
  ResolveChoice, ResolveResult, Role, Scope, TrustMember, TrustView, VerifyReport,
} from '../index.js';
import { causeCode, causeText } from './error-output.js';
import { CliError, EXIT, NotRunningError } from './errors.js';
import { FLAGS_OF_FIELDS, namingFlags, type FieldFlags } from './flags.js';

/** Filters and paging of GET /v1/customers. */
export interface ListQuery {
  territory?: string;
  owner?: string;
  stage?: string;
  /** ms since epoch or an ISO date. */
  updatedSince?: string | number;
  q?: string;
  /** As typed (the API validates it). */
  limit?: number | string;
  cursor?: string;
  includeDeleted?: boolean;
}

/** One page of customers. */
export interface CustomerPage {
  customers: RecordView[];
  next: string | null;
}

/** Filters and paging of GET /v1/conflicts (values as typed: the API validates them). */
export interface ConflictInboxQuery {
  territory?: string;
  owner?: string;
  limit?: number | string;
  cursor?: string;
}

/** One page of the conflict inbox. */
export interface ConflictInboxReply {
  records: ConflictInboxItem[];
  next: string | null;
}

/** Options of the client. */
export interface ApiClientOptions {
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Said when the node cannot be reached: how to start it. */
  unreachableHint?: string;
  fetch?: typeof fetch;
}

/** Socket-level failures that mean "nothing is serving at that address". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** TLS failures that mean "the server's certificate is not one we trust". */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_CERT_MISMATCH',
]);

/** What PUT /v1/customers/:id did. */
export interface PutResult {
  customer: RecordView;
  /** 201: there was no record with that id; 200: it was replaced. */
  created: boolean;
}

/** Status codes to error codes, for error bodies that are not ours (a proxy's). */
const CODE_BY_STATUS: Record<number, ErrorCode> = { 400: 'ERR_VALIDATION', 401: 'ERR_UNAUTHORIZED', 404: 'ERR_NOT_FOUND', 409: 'ERR_EXISTS', 410: 'ERR_GONE', 503: 'ERR_CLOSED', 504: 'ERR_TIMEOUT' };

type Query = Record<string, string | number | boolean | undefined>;

interface RequestInit {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** API field → flag, for validation errors (flags.ts). */
  fields?: FieldFlags;
}

/** Typed access to a running node's HTTP API. */
export class ApiClient {
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(readonly baseUrl: string, private readonly token: string | undefined, private readonly options: ApiClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** GET /v1/status. */
  status(): Promise<NodeStatus> {
    return this.request('GET', '/v1/status');
  }

  /** GET /readyz: true when the node serves requests. */
  async ready(): Promise<boolean> {
    try {
      await this.request('GET', '/readyz');
      return true;
    } catch (err) {
      if (err instanceof CrmsyncError && err.code === 'ERR_CLOSED') return false;
      throw err;
    }
  }

  /** GET /v1/customers/:id. */
  async get(id: string): Promise<RecordView> {
    return (await this.request<{ customer: RecordView }>('GET', `/v1/customers/${encodeURIComponent(id)}`, { fields: FLAGS_OF_FIELDS.record })).customer;
  }

  /** POST /v1/customers (id generated unless the input has one). */
  async create(input: RecordInputLike, idempotencyKey?: string): Promise<RecordView> {
    const headers: Record<string, string> = idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
    return (await this.request<{ customer: RecordView }>('POST', '/v1/customers', { body: input, headers })).customer;
  }

  /** PUT /v1/customers/:id: creates or replaces. */
  async put(id: string, input: RecordInputLike): Promise<PutResult> {
    const { body, status } = await this.exchange<{ customer: RecordView }>('PUT', `/v1/customers/${encodeURIComponent(id)}`, { body: input, fields: FLAGS_OF_FIELDS.record });
    return { customer: body.customer, created: status === 201 };
  }

  /** PATCH /v1/customers/:id. */
  async patch(id: string, patch: RecordPatchLike): Promise<RecordView> {
    return (await this.request<{ customer: RecordView }>('PATCH', `/v1/customers/${encodeURIComponent(id)}`, { body: patch, fields: FLAGS_OF_FIELDS.record })).customer;
  }

  /** DELETE /v1/customers/:id (a restorable tombstone). */
  async delete(id: string): Promise<RecordView> {
    return (await this.request<{ customer: RecordView }>('DELETE', `/v1/customers/${encodeURIComponent(id)}`, { fields: FLAGS_OF_FIELDS.record })).customer;
  }

  /** POST /v1/customers/:id/restore. */
  async restore(id: string): Promise<RecordView> {
    return (await this.request<{ customer: RecordView }>('POST', `/v1/customers/${encodeURIComponent(id)}/restore`, { fields: FLAGS_OF_FIELDS.record })).customer;
  }

  /** POST /v1/customers/:id/erase: erases the record on every node (the node must be an administrator). */
  async erase(id: string): Promise<ErasureView> {
    return (await this.request<{ erasure: ErasureView }>('POST', `/v1/customers/${encodeURIComponent(id)}/erase`)).erasure;
  }

  /** GET /v1/erasures: who erased what (salted hashes), when. */
  async erasures(): Promise<ErasureView[]> {
    return (await this.request<{ erasures: ErasureView[] }>('GET', '/v1/erasures')).erasures;
  }

  /** GET /v1/customers: one page. */
  list(query: ListQuery = {}): Promise<CustomerPage> {
    return this.request('GET', '/v1/customers', { query: { ...query }, fields: FLAGS_OF_FIELDS.list });
  }

  /** GET /v1/customers/:id/conflicts. */
  async conflicts(id: string): Promise<FieldConflict[]> {
    return (await this.request<{ conflicts: FieldConflict[] }>('GET', `/v1/customers/${encodeURIComponent(id)}/conflicts`, { fields: FLAGS_OF_FIELDS.record })).conflicts;
  }

  /** GET /v1/conflicts: one page of the conflict inbox. */
  conflictInbox(query: ConflictInboxQuery = {}): Promise<ConflictInboxReply> {
    return this.request('GET', '/v1/conflicts', { query: { ...query }, fields: FLAGS_OF_FIELDS.conflicts });
  }

  /** POST /v1/customers/:id/conflicts/:field/resolve. */
  resolveConflict(id: string, field: string, choice: ResolveChoice): Promise<ResolveResult> {
    const path = `/v1/customers/${encodeURIComponent(id)}/conflicts/${encodeURIComponent(field)}/resolve`;
    return this.request('POST', path, { body: choice, fields: FLAGS_OF_FIELDS.resolve });
  }

  /** GET /v1/customers/:id/history (`limit` as typed: the API validates it). */
  async history(id: string, limit?: number | string): Promise<HistoryEntry[]> {
    return (await this.request<{ history: HistoryEntry[] }>('GET', `/v1/customers/${encodeURIComponent(id)}/history`, { query: { limit }, fields: FLAGS_OF_FIELDS.history })).history;
  }

  /** GET /v1/peers. */
  async peers(): Promise<PeerStatus[]> {
    return (await this.request<{ peers: PeerStatus[] }>('GET', '/v1/peers')).peers;
  }

  /** POST /v1/verify: checks (and with `repair`, fixes) every stored record. */
  async verify(repair: boolean): Promise<VerifyReport> {
    return this.request('POST', '/v1/verify', { body: { repair } });
  }

  /** POST /v1/verify/peer/:node: anti-entropy with a connected peer (compare, repair, compare again). */
  async verifyPeer(node: string): Promise<AntiEntropyResult> {
    return this.request('POST', `/v1/verify/peer/${encodeURIComponent(node)}`, { body: {} });
  }

  /** POST /v1/peers: starts dialing a peer: the member `node`, or a URL the caller vouches for (`confirm`). */
  async addPeer(url: string, target: { node?: string; confirm?: boolean } = {}): Promise<PeerStatus[]> {
    return (await this.request<{ peers: PeerStatus[] }>('POST', '/v1/peers', { body: { url, ...target }, fields: FLAGS_OF_FIELDS.peers })).peers;
  }

  /** GET /v1/trust. */
  trust(): Promise<TrustView> {
    return this.request('GET', '/v1/trust');
  }

  /** POST /v1/trust/grants. */
  async grant(body: { key: string; node: string; role: string; admin?: boolean; scope?: Scope }): Promise<TrustMember> {
    return (await this.request<{ member: TrustMember }>('POST', '/v1/trust/grants', { body, fields: FLAGS_OF_FIELDS.trust })).member;
  }

  /** DELETE /v1/trust/members/:member (a node id or a key fingerprint). */
  async revoke(member: string): Promise<{ node: string; key: string; upTo: number }> {
    return (await this.request<{ revoked: { node: string; key: string; upTo: number } }>('DELETE', `/v1/trust/members/${encodeURIComponent(member)}`, { fields: FLAGS_OF_FIELDS.trust })).revoked;
  }

  /** POST /v1/trust/invitations. */
  invite(body: { node: string; role: string; scope?: Scope; ttlSeconds?: number; urls?: string[] }): Promise<{ code: string; node: string; role: Role; expires: number; urls: string[] }> {
    return this.request('POST', '/v1/trust/invitations', { body, fields: FLAGS_OF_FIELDS.trust });
  }

  /** DELETE /v1/peers?url=: false when the peer was not configured. */
  async removePeer(url: string): Promise<boolean> {
    return (await this.request<{ removed: boolean }>('DELETE', '/v1/peers', { query: { url }, fields: FLAGS_OF_FIELDS.peers })).removed;
  }

  private async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    return (await this.exchange<T>(method, path, init)).body;
  }

  private async exchange<T>(method: string, path: string, init: RequestInit): Promise<{ body: T; status: number }> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.transportError(err, url);
    }
    const text = await response.text();
    const body = parseJson(text);
    if (response.ok) return { body: body as T, status: response.status };
    const error = errorFromResponse(response.status, body, `${method} ${url.pathname}`);
    throw init.fields ? namingFlags(error, init.fields) : error;
  }

  /** A failed fetch as an error that names the URL and the real cause (undici says only "fetch failed"). */
  private transportError(err: unknown, url: URL): Error {
    const e = err as Error;
    if (e.name === 'TimeoutError') {
      return new CrmsyncError('ERR_TIMEOUT', `the node at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`, { cause: err });
    }
    const cause = causeText(err) || e.message;
    if (/\bbad port\b/.test(cause)) {
      // The fetch standard blocks some ports (6000, 6665-6669, 10080, ...): a node can listen there, fetch will not connect.
      return new NotRunningError(`cannot reach ${this.baseUrl}: Node's fetch refuses port ${url.port || '(default)'} ("bad port": the fetch standard blocks it)`,
        'run the node\'s API on another port (crmsync start --api 127.0.0.1:PORT, or `api` in crmsync.json), then pass that --api URL',
        { cause: err, code: 'ERR_UNREACHABLE' });
    }
    const code = causeCode(err);
    if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
      return new NotRunningError(`cannot reach ${this.baseUrl} securely: ${cause}`,
        'pass --api-cert FILE with the certificate that node presents (it writes it to <data-dir>/api-cert.pem), or a CA it chains to',
        { cause: err, code: 'ERR_UNREACHABLE' });
    }
    if (code !== undefined && UNREACHABLE.has(code)) {
      return new NotRunningError(`no crmsync node is reachable at ${this.baseUrl} (${cause})`, this.options.unreachableHint ?? 'start the node with: crmsync start --data-dir <dir>', { cause: err, code: 'ERR_UNREACHABLE' });
    }
    return new CliError(`request to ${this.baseUrl} failed: ${cause}`, EXIT.runtime, undefined, { cause: err });
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Turns an error response back into the CrmsyncError the server threw. */
export function errorFromResponse(status: number, body: unknown, what: string): Error {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    const details = Array.isArray(error.details) ? (error.details as FieldIssue[]) : undefined;
    // The server's code is kept as is, even one this client does not know.
    return new CrmsyncError(error.code as ErrorCode, error.message, { details });
  }
  const code = CODE_BY_STATUS[status];
  const message = `${what} answered ${status}${typeof body === 'string' ? `: ${body.slice(0, 200)}` : ''}`;
  return code ? new CrmsyncError(code, message) : new CliError(message, EXIT.runtime);
}
