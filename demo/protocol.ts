/**
 * The IPC protocol between the demo driver (demo/run.ts) and each node agent
 * (demo/node-agent.ts, one child process per node). Requests carry an id; every
 * request gets exactly one response with the same id.
 */
import type { FieldConflict, NodeStatus, RecordInputLike, RecordPatchLike, RecordView } from '../src/index.js';

/** How the driver configures an agent (passed as JSON in the CRMSYNC_AGENT env variable). */
export interface AgentConfig {
  nodeId: string;
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  peers: string[];
}

/** A digest of every record a node holds (deleted ones included). */
export interface Snapshot {
  digest: string;
  live: number;
  deleted: number;
}

/** What an agent can do; the driver calls these over IPC. */
export interface AgentApi {
  seed(inputs: RecordInputLike[]): number;
  update(id: string, patch: RecordPatchLike): RecordView;
  delete(id: string): RecordView;
  restore(id: string): RecordView;
  get(id: string): RecordView | null;
  conflicts(id: string): FieldConflict[];
  status(): NodeStatus;
  snapshot(): Snapshot;
  addPeer(url: string): boolean;
  removePeer(url: string): boolean;
  shutdown(): boolean;
}

export type Op = keyof AgentApi;

/** Driver → agent. */
export type Request = { [K in Op]: { kind: 'request'; id: number; op: K; args: Parameters<AgentApi[K]> } }[Op];

/** Agent → driver. */
export type AgentMessage =
  | { kind: 'ready'; nodeId: string; url: string }
  | { kind: 'failed'; error: string }
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: string; code?: string };

/** JSON with object keys sorted at every level, so equal data gives equal bytes on every node. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
