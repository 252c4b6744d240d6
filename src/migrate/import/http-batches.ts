/**
 * Fitting an import batch into the node's HTTP request limit. A batch whose JSON is
 * larger than the limit is sent as several requests, each under it; a single row
 * larger than the limit on its own is rejected here (it could never be sent) instead of
 * failing the whole run; and when the node still answers 413 (a smaller limit than
 * assumed, a proxy in front of it), the request is split in half and retried, down to
 * one row, which is then rejected. The run's progress state goes with the LAST request
 * only: a run killed between the parts resumes before all of them, and the parts
 * already written come back "unchanged", so nothing is lost or counted twice.
 */
import type { SinkItem, SinkResult } from './sink.js';

/** The node API's largest request body (MAX_BODY_BYTES in src/api/server.ts). */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

/** Sends one request body of `count` items; the node's results, or 413 when the body was too large. */
export type PostBatch = (body: string, count: number) => Promise<{ status: 413 } | { status: 200; results: SinkResult[] }>;

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 2 : 0)} MiB`;

/** The result of a row too large to send; `limit` when known (else the node answered 413). */
function tooLarge(item: SinkItem, bytes: number, limit?: number): SinkResult {
  const over = limit === undefined ? 'the node refused it as larger than its request limit' : `it exceeds the node's request limit of ${mib(limit)}`;
  const message = `the row is ${mib(bytes)} as JSON and ${over}: it cannot be imported through --api (import it into the stopped node's data directory, or shorten it)`;
  return { id: item.id, status: 'rejected', error: { code: 'ERR_VALIDATION', message, details: [{ field: '(row)', message }] } };
}

/** Writes `items` and `state` in as many requests as the limit needs; results in item order. */
export async function postInBatches(
  items: SinkItem[], author: string, state: Record<string, unknown>, limit: number, post: PostBatch,
): Promise<SinkResult[]> {
  const results: (SinkResult | undefined)[] = new Array(items.length);
  const sizes = items.map((item) => Buffer.byteLength(JSON.stringify(item)));
  // The envelope with the state: an upper bound for every request's overhead.
  const overhead = Buffer.byteLength(JSON.stringify({ items: [], author, state }));
  const groups: number[][] = [[]];
  let bytes = overhead;
  for (const [i, size] of sizes.entries()) {
    if (overhead + size > limit) {
      results[i] = tooLarge(items[i]!, size, limit);
      continue;
    }
    const group = groups.at(-1)!;
    if (group.length > 0 && bytes + 1 + size > limit) {
      groups.push([i]);
      bytes = overhead + size;
    } else {
      bytes += (group.length > 0 ? 1 : 0) + size;
      group.push(i);
    }
  }

  const send = async (group: number[], withState: boolean): Promise<void> => {
    const body = JSON.stringify({ items: group.map((i) => items[i]), author, ...(withState ? { state } : {}) });
    const answer = await post(body, group.length);
    if (answer.status === 200) {
      for (const [n, i] of group.entries()) results[i] = answer.results[n];
      return;
    }
    if (group.length > 1) {
      const half = Math.ceil(group.length / 2);
      await send(group.slice(0, half), false);
      await send(group.slice(half), withState);
    } else if (group.length === 1) {
      results[group[0]!] = tooLarge(items[group[0]!]!, sizes[group[0]!]!);
      if (withState) await send([], true);
    } else {
      throw new Error(`the node refused the import state alone as too large (${Buffer.byteLength(body)} bytes)`);
    }
  };
  for (const [n, group] of groups.entries()) await send(group, n === groups.length - 1);
  return results.map((r) => {
    if (r === undefined) throw new Error('postInBatches: a row got no result');
    return r;
  });
}
