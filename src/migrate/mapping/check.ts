/**
 * The checks of a mapping that zod's structure cannot express: target fields, transform
 * names and options, regular expressions, date formats, lookup tables, the key. They
 * walk the raw JSON tolerantly, so every problem is found in one pass even when the
 * structure has errors elsewhere: a run never starts on a mapping that would fail (or
 * crash) on its first row.
 */
import { format as formatDate, parse as parseDate } from 'date-fns';
import { ADDRESS_FIELDS, STAGES } from '../../index.js';
import { isTarget, PLAIN_TARGETS, SIMPLE_TRANSFORMS, TRANSFORM_OPTIONS } from './schema.js';

/** One problem, at a JSON path of the mapping. */
export interface MappingIssue {
  path: (string | number)[];
  message: string;
}

const OBJECT_FORMS = '{"phone": {"defaultCountry": "DE", "invalid": "keep"}}, {"date": {"format": "dd.MM.yyyy"}}, {"lookup": "table"}, {"replace": {"pattern": "…", "with": "…"}}';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Letters of date-fns tokens that mean something else than people expect (week years, day of year). */
const PROTECTED = [
  { re: /Y/, hint: 'use yyyy for the year (YYYY is the week-numbering year)' },
  { re: /D/, hint: 'use dd for the day of the month (DD is the day of the year)' },
];

/** Why a date-fns format cannot be used, or undefined when it can (parse and format both). */
export function dateFormatProblem(format: string): string | undefined {
  const unquoted = format.replace(/'[^']*'/g, '');
  for (const { re, hint } of PROTECTED) if (re.test(unquoted)) return `date format "${format}": ${hint}`;
  try {
    parseDate('2024', format, new Date(0));
    formatDate(new Date(0), format);
    return undefined;
  } catch (err) {
    return `date format "${format}" is not valid date-fns syntax (${(err as Error).message.split(';')[0]}); e.g. dd.MM.yyyy or yyyy-MM-dd HH:mm`;
  }
}

/** Why a regular expression does not compile, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'g');
    return undefined;
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

/** Edit distance, to suggest the name a typo meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** " (did you mean x?)" when one candidate is close, else "". */
export function suggestion(value: string, candidates: readonly string[]): string {
  const lower = value.toLowerCase();
  const best = candidates.map((c) => ({ c, d: distance(lower, c.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d <= Math.max(1, Math.floor(value.length / 3)) ? ` (did you mean "${best.c}"?)` : '';
}

function checkStep(step: unknown, path: (string | number)[], lookups: Record<string, unknown>, target: string, issues: MappingIssue[]): void {
  if (typeof step === 'string') {
    if (!(SIMPLE_TRANSFORMS as readonly string[]).includes(step)) {
      issues.push({ path, message: `unknown transform "${step}"${suggestion(step, SIMPLE_TRANSFORMS)}; valid: ${SIMPLE_TRANSFORMS.join(', ')}, or ${OBJECT_FORMS}` });
    }
    return;
  }
  if (!isObject(step)) return; // the structure check reports it
  const keys = Object.keys(step);
  const name = keys[0];
  if (keys.length !== 1 || name === undefined || !(name in TRANSFORM_OPTIONS)) {
    const names = Object.keys(TRANSFORM_OPTIONS);
    const what = keys.length === 1 ? `unknown transform "${name}"${suggestion(name!, names)}` : `a transform object has exactly one key (${names.join(', ')})`;
    issues.push({ path, message: `${what}; valid: ${SIMPLE_TRANSFORMS.join(', ')}, or ${OBJECT_FORMS}` });
    return;
  }
  const options = step[name];
  const parsed = TRANSFORM_OPTIONS[name as keyof typeof TRANSFORM_OPTIONS].safeParse(options);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const message = issue.code === 'unrecognized_keys' ? `unknown option(s) ${issue.keys.join(', ')}` : issue.message;
      issues.push({ path: [...path, name, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))], message });
    }
    return;
  }
  if (name === 'date') {
    const problem = dateFormatProblem((options as { format: string }).format);
    if (problem) issues.push({ path: [...path, 'date', 'format'], message: problem });
  } else if (name === 'replace') {
    const problem = patternProblem((options as { pattern: string }).pattern);
    if (problem) issues.push({ path: [...path, 'replace', 'pattern'], message: problem });
  } else if (name === 'lookup') {
    checkLookup(options as string, path, lookups, target, issues);
  }
}

function checkLookup(name: string, path: (string | number)[], lookups: Record<string, unknown>, target: string, issues: MappingIssue[]): void {
  const table = lookups[name];
  if (table === undefined) {
    issues.push({ path: [...path, 'lookup'], message: `lookup table "${name}" is not defined under "lookups"${suggestion(name, Object.keys(lookups))}` });
  } else if (target === 'stage' && isObject(table)) {
    const bad = Object.values(table).filter((v) => !(STAGES as readonly unknown[]).includes(v));
    if (bad.length > 0) issues.push({ path: ['lookups', name], message: `values must be stages (${STAGES.join(', ')}); not: ${bad.join(', ')}` });
  }
}

/** Every cross-field problem of a raw (JSON-parsed) mapping. */
export function checkMapping(raw: unknown): MappingIssue[] {
  const issues: MappingIssue[] = [];
  if (!isObject(raw)) return issues;
  const lookups = isObject(raw.lookups) ? raw.lookups : {};
  const fields = isObject(raw.fields) ? raw.fields : {};
  for (const [target, spec] of Object.entries(fields)) {
    if (!isTarget(target)) {
      const known = [...PLAIN_TARGETS, ...ADDRESS_FIELDS.map((f) => `address.${f}`)];
      issues.push({ path: ['fields', target], message: `unknown record field "${target}"${suggestion(target, known)}; use ${PLAIN_TARGETS.join(', ')}, address.<${ADDRESS_FIELDS.join('|')}> or custom.<key>` });
    }
    if (!isObject(spec) || !Array.isArray(spec.transforms)) continue;
    for (const [i, step] of spec.transforms.entries()) checkStep(step, ['fields', target, 'transforms', i], lookups, target, issues);
  }
  const watermark = raw.watermark;
  if (isObject(watermark) && typeof watermark.format === 'string') {
    const problem = dateFormatProblem(watermark.format);
    if (problem) issues.push({ path: ['watermark', 'format'], message: problem });
  }
  const key = raw.key;
  const byEmail = key === undefined || (isObject(key) && key.field === 'email');
  if (byEmail && isObject(raw.fields) && fields.email === undefined) {
    issues.push({ path: ['key'], message: 'the key is the e-mail, but no field maps "email": map it or set key.column' });
  }
  return issues;
}
