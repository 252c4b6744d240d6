/**
 * What this node's stored data is complete for (PROTOCOL.md "Holdings", subscription
 * change). A subscriber skipped the history of records outside its subscription as stubs,
 * so when the subscription grows, its data is complete only for the older one until a
 * region has sent the documents of the records the new one gains and answered
 * `subscribed`. That older subscription ("covered") is stored, so a node started again
 * with another subscription still fetches what it gains, and a session that closes
 * half-way through the documents is followed by one that asks again.
 */
import { sameFilter, withinFilter, type HoldingFilter } from '../crdt/holding.js';
import type { Store } from '../store/store.js';

/** State key of the stored coverage. */
export const COVERAGE_KEY = 'holding/coverage';

/** As stored: the subscription data is complete for, and the one last applied (absent: everything). */
interface StoredCoverage {
  covered?: HoldingFilter;
  subscription?: HoldingFilter;
}


/**
 * Applies `subscription` to the stored coverage: data complete for a wider subscription
 * is complete for a narrower one, once what lies outside it is evicted. A data directory
 * from before coverage was stored is taken as complete for the subscription it is opened
 * with (as it was treated then). Records outside the subscription may be stored when it
 * changed (or a fetch for a wider one was under way): `evict` removes them before the new
 * coverage is stored, so a crash in between evicts again on the next start. Returns the
 * subscription the data is now complete for (undefined: everything).
 */
export async function applyCoverage(store: Store, subscription: HoldingFilter | undefined, evict: () => Promise<unknown>): Promise<HoldingFilter | undefined> {
  const stored = await store.getState<StoredCoverage>(COVERAGE_KEY);
  const previous = stored ? stored.subscription : subscription;
  let covered = stored ? stored.covered : subscription;
  if (!sameFilter(previous, subscription) || !sameFilter(covered, subscription)) await evict();
  if (withinFilter(subscription, covered)) covered = subscription;
  await saveCoverage(store, covered, subscription, stored);
  return covered;
}

/** The subscription last applied to this data directory (undefined: everything, or never stored). */
export async function storedSubscription(store: Store): Promise<HoldingFilter | undefined> {
  return (await store.getState<StoredCoverage>(COVERAGE_KEY))?.subscription;
}

/**
 * A region answered `subscribed` for `answered`: if that is the current subscription, the
 * data is complete for it. `covered` is what the node already knows it is complete for
 * (the stored coverage, as applyCoverage returned it): stored only if that changes.
 */
export async function markCovered(store: Store, answered: HoldingFilter | undefined, subscription: HoldingFilter | undefined, covered: HoldingFilter | undefined): Promise<boolean> {
  if (!sameFilter(answered, subscription)) return false;
  if (!sameFilter(covered, subscription)) await store.putState([[COVERAGE_KEY, stored(subscription, subscription)]]);
  return true;
}

async function saveCoverage(store: Store, covered: HoldingFilter | undefined, subscription: HoldingFilter | undefined, previous: StoredCoverage | undefined): Promise<void> {
  if (previous && sameFilter(previous.covered, covered) && sameFilter(previous.subscription, subscription)) return;
  await store.putState([[COVERAGE_KEY, stored(covered, subscription)]]);
}

function stored(covered: HoldingFilter | undefined, subscription: HoldingFilter | undefined): StoredCoverage {
  return { ...(covered ? { covered } : {}), ...(subscription ? { subscription } : {}) };
}
