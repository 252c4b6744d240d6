/**
 * Re-deriving the shown value of conflicted fields when what picks it changes: the merge
 * policies (a new configuration, or an upgrade from a version without policies) or a
 * member's role (owner-region). Only records with open conflicts can show a different
 * value, so only they are loaded; each page is one atomic commit under the write lock.
 */
import { isDeepStrictEqual } from 'node:util';
import { materialize } from '../crdt/record-doc.js';
import type { Mutation, Store } from '../store/store.js';
import type { Writer } from './writer.js';

/** The state key remembering which policies the stored views were derived with. */
export const POLICY_STATE_KEY = 'merge-policies';

/**
 * Re-derives every conflicted record's view with the writer's merge context; returns how
 * many views changed. `pageSize` records are read per step (the write lock is held per step).
 */
export async function rederiveConflicted(store: Store, writer: Writer, pageSize: number): Promise<number> {
  let changed = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listRecords({ after, limit: pageSize, includeDeleted: true });
    const ids = page.views.filter((v) => v.conflicts.length > 0).map((v) => v.id);
    if (ids.length > 0) {
      changed += await writer.run(async () => {
        const metas = await store.getMetas(ids);
        const fixes: Mutation = { records: [], entries: [], clock: [] };
        for (let i = 0; i < ids.length; i++) {
          const meta = metas[i];
          if (!meta || meta.view.conflicts.length === 0) continue;
          const doc = await writer.docFor(ids[i]!, meta);
          const view = materialize(doc, ids[i]!, meta.view.conflicts, writer.merge);
          if (!isDeepStrictEqual(view, meta.view)) fixes.records.push({ id: ids[i]!, before: meta, after: { ...meta, view } });
        }
        if (fixes.records.length > 0) await writer.commit(fixes);
        return fixes.records.length;
      });
    }
    if (page.next === undefined) return changed;
    after = page.next;
  }
}

/**
 * Re-derives conflicted views when the stored views were derived with other policies
 * than `digest` (or before policies existed), then remembers `digest`.
 */
export async function adoptPolicies(store: Store, writer: Writer, digest: string, pageSize: number): Promise<number> {
  if ((await store.getState<string>(POLICY_STATE_KEY)) === digest) return 0;
  const changed = await rederiveConflicted(store, writer, pageSize);
  await store.putState([[POLICY_STATE_KEY, digest]]);
  return changed;
}
