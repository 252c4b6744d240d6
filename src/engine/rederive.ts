/**
 * Re-deriving the shown value of conflicted fields when what picks it changes: the merge
 * policies (a new configuration, or an upgrade from a version without policies) or a
 * member's role (owner-region). Only records with open conflicts can show a different
 * value, so only they are loaded; each page is one atomic commit under the write lock.
 */
import type { Limits } from '../limits.js';
import type { Store } from '../store/store.js';
import { verifyRecordIds } from './verify.js';
import type { Writer } from './writer.js';

/** The state key remembering which policies the stored views were derived with. */
export const POLICY_STATE_KEY = 'merge-policies';

/**
 * Re-derives every conflicted record's view with the writer's merge context, through
 * verify's repair (a view that differs from the one its document gives is rewritten);
 * returns how many records were rewritten. Listing reads one page of `verifyPageRecords`
 * views at a time.
 */
export async function rederiveConflicted(store: Store, writer: Writer, limits: Pick<Limits, 'verifyPageRecords' | 'maxReportedProblems'>): Promise<number> {
  let rewritten = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listRecords({ after, limit: limits.verifyPageRecords, includeDeleted: true });
    const ids = page.views.filter((v) => v.conflicts.length > 0).map((v) => v.id);
    if (ids.length > 0) rewritten += (await verifyRecordIds(store, writer, limits, ids, { repair: true })).repaired;
    if (page.next === undefined) return rewritten;
    after = page.next;
  }
}

/**
 * Re-derives conflicted views when the stored views were derived with other policies
 * than `digest` (or before policies existed), then remembers `digest`.
 */
export async function adoptPolicies(store: Store, writer: Writer, digest: string, limits: Pick<Limits, 'verifyPageRecords' | 'maxReportedProblems'>): Promise<number> {
  if ((await store.getState<string>(POLICY_STATE_KEY)) === digest) return 0;
  const changed = await rederiveConflicted(store, writer, limits);
  await store.putState([[POLICY_STATE_KEY, digest]]);
  return changed;
}
