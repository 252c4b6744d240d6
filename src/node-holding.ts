/**
 * What a node holds (PROTOCOL.md "Holdings"): its subscription, checked against the
 * trust list's scope for it, and the effective holding the engine and the sessions use.
 * Kept apart from node.ts like node-trust.ts: the composition root only wires it.
 */
import { effectiveHolding, MAX_HOLDING_NAME, normalise, type HoldingFilter } from './crdt/holding.js';
import type { Engine } from './engine/engine.js';
import { z } from 'zod';
import { CrmsyncError, validationError } from './errors.js';
import { FIXED } from './limits.js';
import type { TrustService } from './trust/trust-service.js';

const names = z.array(z.string().trim().min(1, 'must not be empty').max(MAX_HOLDING_NAME)).max(FIXED.maxHoldingNames);
/** A subscription as options, config and the API give it. */
const subscriptionSchema = z.object({ territories: names.optional(), owners: names.optional() }).strict();

/**
 * Validates a subscription from options, config or the API (ERR_VALIDATION with the
 * field): lists of non-empty names. Undefined (or both lists absent) holds everything.
 */
export function parseSubscription(value: unknown): HoldingFilter | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = subscriptionSchema.safeParse(value);
  if (!parsed.success) throw validationError('subscription', parsed.error);
  const { territories, owners } = parsed.data;
  if (!territories && !owners) return undefined;
  return normalise({ ...(territories ? { territories } : {}), ...(owners ? { owners } : {}) });
}

/** This node's trust-list scope (undefined: unrestricted, or not a member yet). */
export function ownScope(trust: TrustService): HoldingFilter | undefined {
  return trust.list.memberByKey(trust.keys.publicKey)?.scope;
}

/** A subscription's names split by the scope: those it allows and those it does not. */
function splitByScope(subscription: HoldingFilter, scope: HoldingFilter): { inside: HoldingFilter; outside: number } {
  const split = (mine: readonly string[] | undefined, allowed: readonly string[] | undefined) => {
    const inside = (mine ?? []).filter((n) => (allowed ?? []).includes(n));
    return { inside, outside: (mine?.length ?? 0) - inside.length };
  };
  const territories = split(subscription.territories, scope.territories);
  const owners = split(subscription.owners, scope.owners);
  return { inside: { territories: territories.inside, owners: owners.inside }, outside: territories.outside + owners.outside };
}

/**
 * The stored subscription a node is opened with when none is given, without the names its
 * trust-list scope no longer allows (an administrator narrowed it meanwhile): the node
 * opens with the rest rather than refusing to start. Nothing left: everything the scope
 * allows. `dropped` counts the names left out.
 */
export function keptSubscription(stored: HoldingFilter | undefined, scope: HoldingFilter | undefined): { subscription: HoldingFilter | undefined; dropped: number } {
  if (!stored || !scope) return { subscription: stored, dropped: 0 };
  const { inside, outside } = splitByScope(stored, scope);
  const territories = inside.territories ?? [];
  const owners = inside.owners ?? [];
  if (territories.length === 0 && owners.length === 0) return { subscription: undefined, dropped: outside };
  return { subscription: normalise({ ...(territories.length ? { territories } : {}), ...(owners.length ? { owners } : {}) }), dropped: outside };
}

/**
 * Sets the engine's holding: the subscription AND the node's scope. A subscription that
 * names a territory or owner beyond the scope is refused (ERR_UNAUTHORIZED): a node may
 * not subscribe to what it may not read. Evicts what the node no longer holds; returns
 * how many records that was.
 */
export async function applySubscription(engine: Engine, trust: TrustService, subscription: HoldingFilter | undefined): Promise<number> {
  const scope = ownScope(trust);
  const outside = scope && subscription ? splitByScope(subscription, scope).outside : 0;
  if (outside > 0) {
    throw new CrmsyncError('ERR_UNAUTHORIZED', `the subscription names ${outside} territories or owners beyond this node's scope in the trust list`);
  }
  return engine.setHolding(subscription, effectiveHolding(subscription, scope));
}
