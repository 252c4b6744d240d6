/**
 * Holdings (partial replication, PROTOCOL.md "Holdings"): which records a node keeps.
 * A node holds every record (regions, the default) or a subscription: records whose
 * territory is one of `territories` or whose owner is one of `owners`. A member's trust
 * list `scope` is a filter of the same shape, and its effective holding is the
 * subscription AND the scope, so a holding is a list of filters that must all match
 * (the empty list: everything). Pure functions, no I/O.
 */

import { MAX_TERRITORY_LENGTH } from './record-schema.js';

/** Longest territory or owner name a subscription or scope may name: as long as a record's territory may be. */
export const MAX_HOLDING_NAME = MAX_TERRITORY_LENGTH;

/** Records in these territories, or of these owners (either list may be absent). */
export interface HoldingFilter {
  territories?: readonly string[];
  owners?: readonly string[];
}

/** Every filter must match; the empty list holds every record. */
export type Holding = readonly HoldingFilter[];

/** Where a record is: the two fields holdings look at (undefined when unset). */
export interface Placement {
  territory?: string | undefined;
  owner?: string | undefined;
}

/** The holding of a node that holds everything. */
export const HOLD_ALL: Holding = [];

/** True when the holding is everything. */
export function holdsAll(holding: Holding): boolean {
  return holding.length === 0;
}

/**
 * Whether some record of territory `territory` (null: none) could be in the holding: every
 * filter names the territory, or may take records of it by owner.
 */
export function mayHoldTerritory(holding: Holding, territory: string | null): boolean {
  return holding.every((f) => (territory !== null && (f.territories?.includes(territory) ?? false)) || (f.owners?.length ?? 0) > 0);
}

/** Whether every record of territory `territory` (null: none) is in the holding, whoever owns it. */
export function holdsTerritory(holding: Holding, territory: string | null): boolean {
  return holding.every((f) => territory !== null && (f.territories?.includes(territory) ?? false));
}

/** True when a record placed at `place` matches the filter. */
export function matchesFilter(filter: HoldingFilter, place: Placement): boolean {
  return (place.territory !== undefined && (filter.territories?.includes(place.territory) ?? false))
    || (place.owner !== undefined && (filter.owners?.includes(place.owner) ?? false));
}

/** True when a record placed at `place` is in the holding (an unknown place is in none but everything). */
export function holds(holding: Holding, place: Placement | undefined): boolean {
  if (holdsAll(holding)) return true;
  return place !== undefined && holding.every((filter) => matchesFilter(filter, place));
}

/** A record's placement as a view carries it. */
export function placementOf(view: { territory?: string | undefined; owner?: string | undefined } | undefined): Placement | undefined {
  return view && { territory: view.territory, owner: view.owner };
}

/**
 * The effective holding of a node: its subscription (undefined: everything) AND its
 * trust-list scope (undefined: unrestricted). Empty filters are dropped as meaningless
 * only when both lists are absent (a filter with no lists matches nothing, on purpose).
 */
export function effectiveHolding(subscription: HoldingFilter | undefined, scope: HoldingFilter | undefined): Holding {
  return [scope, subscription].filter((f): f is HoldingFilter => f !== undefined).map(normalise);
}

/**
 * True when every record `theirs` holds is also in `ours` (conservatively: each of our
 * filters is implied by one of theirs, list by list). Only a peer whose holding covers
 * ours can relay third origins' entries to us without hiding records we hold as stubs.
 */
export function covers(ours: Holding, theirs: Holding): boolean {
  if (holdsAll(ours)) return true;
  return ours.every((f) => theirs.some((g) => subset(g.territories, f.territories) && subset(g.owners, f.owners)));
}

/** True when two holdings name the same records by the same filters (order aside). */
export function sameHolding(a: Holding, b: Holding): boolean {
  const key = (h: Holding) => JSON.stringify(h.map(normalise).map((f) => [f.territories ?? [], f.owners ?? []]).sort());
  return key(a) === key(b);
}

/** True when two subscriptions (undefined: everything) name the same records by the same lists. */
export function sameFilter(a: HoldingFilter | undefined, b: HoldingFilter | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameHolding([a], [b]);
}

/** True when every record subscription `inner` names is one `outer` names (undefined: everything), list by list. */
export function withinFilter(inner: HoldingFilter | undefined, outer: HoldingFilter | undefined): boolean {
  if (outer === undefined) return true;
  return inner !== undefined && subset(inner.territories, outer.territories) && subset(inner.owners, outer.owners);
}

/** A filter with sorted, de-duplicated lists (absent lists stay absent). */
export function normalise(filter: HoldingFilter): HoldingFilter {
  const sorted = (list: readonly string[] | undefined) => (list === undefined ? undefined : [...new Set(list)].sort());
  const territories = sorted(filter.territories);
  const owners = sorted(filter.owners);
  return { ...(territories ? { territories } : {}), ...(owners ? { owners } : {}) };
}

function subset(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return (a ?? []).every((x) => (b ?? []).includes(x));
}

/** True when a placement names neither a territory nor an owner (a record nobody placed yet). */
function unplaced(place: Placement | undefined): boolean {
  return place === undefined || (place.territory === undefined && place.owner === undefined);
}

/**
 * Why a change by a member with `scope` must be refused, or undefined: the record was
 * outside the scope before the change (at the change's dependencies), or a record nobody
 * had placed (a new one) is not placed inside it by the change. Moving a record out of one's scope is
 * allowed; moving one in from outside is not (it was outside before).
 */
export function scopeViolation(scope: HoldingFilter, before: Placement | undefined, after: Placement | undefined): string | undefined {
  if (!unplaced(before)) return holds([scope], before) ? undefined : 'the writer\'s scope does not include the record (its territory and owner before the change)';
  // A record nobody placed is in no scope: a scoped writer must place what it creates.
  if (holds([scope], after)) return undefined;
  return 'the writer\'s scope does not include the territory or owner the change gives the record';
}

/** Where a record will be after a write that sets (string), clears (null) or keeps (undefined) territory and owner. */
export function placementAfter(current: Placement | undefined, set: { territory?: string | null | undefined; owner?: string | null | undefined } | undefined): Placement {
  const pick = (next: string | null | undefined, now: string | undefined) => (next === null ? undefined : next ?? now);
  const territory = pick(set?.territory, current?.territory);
  const owner = pick(set?.owner, current?.owner);
  return { ...(territory === undefined ? {} : { territory }), ...(owner === undefined ? {} : { owner }) };
}
