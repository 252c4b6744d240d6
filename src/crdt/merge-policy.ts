/**
 * Merge policies: which of a field's concurrent values a record's view shows. Automerge
 * keeps every concurrent value (they stay visible as conflicts); the policy only picks
 * the one readers see. It is a pure function of the candidates, so every node holding
 * the same changes (and the same trust list, for roles) shows the same value.
 *
 * Rules, each ending in the same deterministic tie-break (later time, then the higher
 * op id as Automerge orders them):
 *  - `latest` (default): the latest write by hybrid logical clock time;
 *  - `owner-region`: a value written by a `region` member beats one written by anyone
 *    else (a laptop cannot take a territory or owner away from the region deciding it);
 *  - `monotonic` (`stage` only): the value furthest along the pipeline, unless the latest
 *    write is an explicit reopen, which then wins;
 *  - `max` / `min` (custom fields): the largest / smallest number; numbers beat other values.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CrmsyncError } from '../errors.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type Stage } from './record-schema.js';

/** The rules a field can be declared with. */
export const MERGE_RULES = ['latest', 'owner-region', 'monotonic', 'max', 'min'] as const;
/** One merge rule. */
export type MergeRule = (typeof MERGE_RULES)[number];

/** Field path (`email`, `address.city`, `custom.budget`, `deleted`) -> rule. Fields not named use `latest`. */
export type MergePolicies = Readonly<Record<string, MergeRule>>;

/** What a cluster gets without configuring anything: regions decide territory and owner, the pipeline only moves forward. */
export const DEFAULT_MERGE_POLICIES: MergePolicies = { owner: 'owner-region', stage: 'monotonic', territory: 'owner-region' };

/**
 * Pipeline order for `monotonic`: a higher rank is further along. `won` and `lost` close
 * a deal at the same rank (the later write decides between them); a customer can churn.
 */
export const STAGE_RANK: Readonly<Record<Stage, number>> = {
  lead: 0, qualified: 1, proposal: 2, negotiation: 3, won: 4, lost: 4, customer: 5, churned: 6,
};

/** The root key a write sets (beside `stage`) to mark an explicit reopen. */
export const REOPEN_KEY = 'stageReopen';

/** One concurrent value with what the rules need to know about it. */
export interface Candidate {
  value: string | number | boolean | null;
  /** Automerge op id `counter@actor`. */
  opId: string;
  /** Time of the change that wrote it (ms, hybrid logical clock; 0 if unknown). */
  time: number;
  /** Role of the node that wrote it, from the trust list (undefined if unknown). */
  role: string | undefined;
  /** True when the change that wrote it was an explicit reopen (stage only). */
  reopen: boolean;
}

/** Configuration schema of `mergePolicies` (config file key, node option). */
export const mergePoliciesSchema = z.record(z.string().max(80), z.enum(MERGE_RULES, { error: `must be one of ${MERGE_RULES.join(', ')}` }))
  .superRefine((policies, ctx) => {
    for (const [field, rule] of Object.entries(policies)) {
      const problem = ruleProblem(field, rule);
      if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
    }
  });

/** Why `rule` cannot apply to `field`, or undefined when it can. */
function ruleProblem(field: string, rule: MergeRule): string | undefined {
  const known = field === 'deleted' || (ATOMIC_FIELDS as readonly string[]).includes(field)
    || (field.startsWith('address.') && (ADDRESS_FIELDS as readonly string[]).includes(field.slice(8))) || /^custom\.\S{1,64}$/.test(field);
  if (!known) return `${field} is not a field that can hold concurrent values (atomic fields, address.<part>, custom.<key>, deleted)`;
  if (rule === 'monotonic' && field !== 'stage') return 'monotonic applies to stage only (the pipeline order)';
  if ((rule === 'max' || rule === 'min') && !field.startsWith('custom.')) return `${rule} applies to numeric custom fields (custom.<key>) only`;
  return undefined;
}

/** The effective policies: the defaults, overridden by what is declared. Throws ERR_VALIDATION on a bad declaration. */
export function resolvePolicies(declared: Record<string, string> | undefined): MergePolicies {
  const parsed = mergePoliciesSchema.safeParse(declared ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({ field: `mergePolicies.${issue.path.join('.')}`, message: issue.message }));
    throw new CrmsyncError('ERR_VALIDATION', `invalid merge policy: ${details[0]!.field}: ${details[0]!.message}`, { details });
  }
  return Object.freeze({ ...DEFAULT_MERGE_POLICIES, ...parsed.data });
}

/** The rule deciding `field`. */
export function ruleFor(policies: MergePolicies, field: string): MergeRule {
  return policies[field] ?? 'latest';
}

/**
 * A short digest of the effective policies. Nodes exchange it when they connect: two
 * nodes with different policies would show different winners, so they refuse to sync.
 */
export function policiesDigest(policies: MergePolicies): string {
  const canonical = JSON.stringify(Object.entries(policies).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** True when `to` is an earlier pipeline stage than `from` (a move `monotonic` allows only as a reopen). */
export function movesBack(from: string | undefined, to: string | null | undefined): boolean {
  if (from === undefined || to === undefined || to === null) return false;
  return rankOf(to) < rankOf(from);
}

/**
 * Refuses a local write that moves `stage` back along the pipeline without `reopen`,
 * when stage is `monotonic`: the same rule the merge applies to concurrent values.
 */
export function checkStageMove(policies: MergePolicies, from: string | undefined, to: string | null | undefined, reopen: boolean | undefined): void {
  if (reopen || ruleFor(policies, 'stage') !== 'monotonic' || !movesBack(from, to)) return;
  const message = `moves back from ${from} to ${to}; stages only move forward unless the deal is reopened: send "reopen": true with the change`;
  throw new CrmsyncError('ERR_VALIDATION', `stage ${message}`, { details: [{ field: 'stage', message }] });
}

/** Index of the candidate `rule` picks. Candidates must be non-empty; the result is independent of their order. */
export function pickWinner(rule: MergeRule, candidates: readonly Candidate[]): number {
  const latest = best(candidates, (a, b) => byTime(a, b));
  // `monotonic`: an explicit reopen that is the latest write wins; otherwise the furthest stage.
  if (rule === 'latest' || (rule === 'monotonic' && candidates[latest]!.reopen)) return latest;
  return best(candidates, (a, b) => byRule(rule, a, b) || byTime(a, b));
}

/** Index of the greatest candidate under `compare` (> 0: the first argument is greater). */
function best(candidates: readonly Candidate[], compare: (a: Candidate, b: Candidate) => number): number {
  let at = 0;
  for (let i = 1; i < candidates.length; i++) if (compare(candidates[i]!, candidates[at]!) > 0) at = i;
  return at;
}

/** The tie-break every rule ends in: later time, then the higher op id. */
function byTime(a: Candidate, b: Candidate): number {
  return a.time - b.time || compareOpIds(a.opId, b.opId);
}

function byRule(rule: Exclude<MergeRule, 'latest'>, a: Candidate, b: Candidate): number {
  switch (rule) {
    case 'owner-region':
      return Number(a.role === 'region') - Number(b.role === 'region');
    case 'monotonic':
      return rankOf(a.value) - rankOf(b.value);
    case 'max':
    case 'min': {
      const an = typeof a.value === 'number', bn = typeof b.value === 'number';
      if (an !== bn) return Number(an) - Number(bn);
      if (!an) return 0;
      const diff = (a.value as number) - (b.value as number);
      return rule === 'max' ? Math.sign(diff) : -Math.sign(diff);
    }
  }
}

function rankOf(value: Candidate['value']): number {
  return typeof value === 'string' && value in STAGE_RANK ? STAGE_RANK[value as Stage] : -1;
}

/** Automerge's op order: counter, then actor. */
export function compareOpIds(a: string, b: string): number {
  const at = a.indexOf('@'), bt = b.indexOf('@');
  const diff = Number(a.slice(0, at)) - Number(b.slice(0, bt));
  if (diff !== 0) return diff;
  const aa = a.slice(at + 1), ba = b.slice(bt + 1);
  return aa < ba ? -1 : aa > ba ? 1 : 0;
}
