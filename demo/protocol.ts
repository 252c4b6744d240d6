/**
 * What a demo node agent (demo/node-agent.ts, one child process per node) and the
 * demo driver tell each other over the IPC channel: the agent reports once that its
 * node and HTTP API are up (or why they are not); everything else goes over HTTP.
 */

/** How the driver configures an agent (passed as JSON in argv[2]). */
export interface AgentConfig {
  nodeId: string;
  dataDir: string;
  /** Bearer token of the node's HTTP API. */
  apiToken: string;
  /** Shared secret every peer presents. */
  peerToken: string;
  /** An invitation code (from the founder): the node joins the founder's cluster with it. Absent: it founds the cluster. */
  invitation?: string;
}

/** Agent → driver, once. */
export type AgentMessage =
  | { kind: 'ready'; nodeId: string; apiUrl: string; peerUrl: string }
  | { kind: 'failed'; error: string };

/** JSON with object keys sorted at every level, so equal data gives equal bytes on every node. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
