/**
 * What `--infer` learns from a column's sample values: whether it holds dates and in
 * which order (decided from evidence such as a day above 12, reported when the values
 * cannot tell), how many phone numbers normalise and with which default country, and a
 * source name from the file name. Pure; every result carries its reason in words.
 */
import { getCountries, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { parseDateValue } from './transforms.js';

/** What was decided about a column, and why (shown to the user, kept in `decisions`). */
export interface Finding {
  decision: string;
  why: string;
  /** The values could not settle it: the user should check. */
  ambiguous?: boolean;
}

/** A date column's format (undefined: ISO 8601) and the reasoning. */
export interface DateFinding extends Finding {
  format: string | undefined;
}

const texts = (samples: unknown[]) => samples.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim());

const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
/** d/m/y with one separator, 2- or 4-digit years, an optional time. */
const NUMERIC = /^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T](\d{1,2}:\d{2}(?::\d{2})?))?$/;

/** True when every value looks like a date (ISO or day/month/year with one separator). */
export function looksLikeDates(samples: unknown[]): boolean {
  const values = texts(samples);
  return values.length > 0 && values.every((v) => ISO.test(v) || NUMERIC.test(v));
}

/**
 * The date format of a column, decided from its values: a first part above 12 means
 * day first, a second part above 12 month first; when no value settles it, the
 * separator's usual convention is assumed (dots: day first; slashes: month first;
 * dashes: day first) and the finding is marked ambiguous. Undefined when the values
 * are not dates of one format.
 */
export function dateFinding(samples: unknown[]): DateFinding | undefined {
  const values = texts(samples);
  if (values.length === 0) return undefined;
  if (values.every((v) => ISO.test(v)) && values.every((v) => isDate(v))) {
    return { format: undefined, decision: 'ISO 8601 dates', why: `all ${values.length} sample values are ISO 8601 (e.g. 2024-05-31)` };
  }
  const parts = values.map((v) => NUMERIC.exec(v));
  if (parts.some((p) => p === null)) return undefined;
  const separators = new Set(parts.map((p) => p![2]));
  const years = new Set(parts.map((p) => p![4]!.length));
  if (separators.size > 1 || years.size > 1) return undefined;
  const separator = parts[0]![2]!;
  const dayFirst = parts.filter((p) => Number(p![1]) > 12).length;
  const monthFirst = parts.filter((p) => Number(p![3]) > 12).length;
  if (dayFirst > 0 && monthFirst > 0) return undefined; // neither order fits every value
  const timed = parts.filter((p) => p![5] !== undefined).length;
  if (timed > 0 && timed < parts.length) return undefined; // one format cannot read both
  const time = timed === 0 ? '' : parts.some((p) => p![5]!.split(':').length === 3) ? ' HH:mm:ss' : ' HH:mm';
  const year = years.has(4) ? 'yyyy' : 'yy';
  const order = (first: boolean) => (first ? ['dd', 'MM'] : ['MM', 'dd']).join(separator) + separator + year + time;
  let finding: DateFinding;
  if (dayFirst > 0) {
    finding = { format: order(true), decision: `day first: ${order(true)}`, why: `${dayFirst} of ${values.length} sample values have a first part above 12, which can only be a day` };
  } else if (monthFirst > 0) {
    finding = { format: order(false), decision: `month first: ${order(false)}`, why: `${monthFirst} of ${values.length} sample values have a second part above 12, which can only be a day` };
  } else {
    const first = separator !== '/';
    finding = {
      format: order(first), ambiguous: true,
      decision: `assumed ${first ? 'day' : 'month'} first: ${order(first)}`,
      why: `no sample value has a part above 12, so the values cannot tell day and month apart; ${separator === '/' ? 'slashes usually mean month first (US)' : `"${separator}" usually means day first`}. Check a few records, and change the format to ${order(!first)} if that is what the file means`,
    };
  }
  return values.every((v) => isDate(v, finding.format)) ? finding : undefined;
}

function isDate(value: string, format?: string): boolean {
  try {
    parseDateValue(value, format);
    return true;
  } catch {
    return false;
  }
}

/** A phone column: the default country to propose and how many samples would be kept raw. */
export interface PhoneFinding extends Finding {
  country: string | undefined;
  invalid: number;
}

/** Numbers without a country prefix tried under every country to find the default one. */
const PHONE_COUNTRY_SAMPLE = 40;

const valid = (value: string, country?: CountryCode) => parsePhoneNumberFromString(value, country)?.isValid() === true;

/**
 * Phone numbers: those without a + need a default country; it is the one under which
 * most of them are valid, when exactly one country is best (`hint`, e.g. a country
 * column's most common value, wins a tie). Counts the values no country makes valid.
 */
export function phoneFinding(samples: unknown[], hint?: string): PhoneFinding | undefined {
  const values = texts(samples);
  if (values.length === 0) return undefined;
  const national = values.filter((v) => !v.startsWith('+') && !v.startsWith('00'));
  let country: string | undefined;
  let why = 'every sample number starts with + or 00';
  if (national.length > 0) {
    // Scored on a few values: every country is tried on each.
    const sample = national.slice(0, PHONE_COUNTRY_SAMPLE);
    const scores = getCountries().map((c) => ({ c, n: sample.filter((v) => valid(v, c)).length })).sort((a, b) => b.n - a.n);
    const best = scores[0]!;
    const tied = scores.filter((s) => s.n === best.n).map((s) => s.c as string);
    if (best.n > 0 && tied.length === 1) country = best.c;
    else if (best.n > 0 && hint && tied.includes(hint)) country = hint;
    why = country
      ? `${best.n} of ${sample.length} sample numbers without a country prefix are valid ${country} numbers${tied.length > 1 ? ` (as in ${tied.length - 1} other countries; ${country} is the most common country column value)` : ''}`
      : `${national.length} sample numbers have no country prefix and no one country makes them valid; set defaults.phoneCountry`;
  }
  const invalid = values.filter((v) => !valid(v, country as CountryCode | undefined)).length;
  return {
    country, invalid, ambiguous: national.length > 0 && country === undefined,
    decision: `lenient phone numbers${country ? `, default country ${country}` : ''}`,
    why: `${why}; ${invalid} of ${values.length} sample values would not normalise: they are kept as written in a custom field instead of rejecting their rows`,
  };
}

const MONTHS = new Set([
  'jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october', 'november', 'december',
  'januar', 'februar', 'maerz', 'märz', 'mai', 'juni', 'juli', 'okt', 'oktober', 'dez', 'dezember',
]);

/**
 * A source name from a file name with its dates, numbers and month names left out, so
 * "customers-2024-05.csv" and "customers-2024-06.csv" are the same source: "customers".
 */
export function sourceNameFrom(fileName: string): string {
  const stem = fileName.replace(/\.[A-Za-z0-9]+$/, '');
  const separator = /[_-]/.exec(stem)?.[0] ?? '-';
  const words = stem.split(/[^A-Za-z0-9À-ɏ]+/)
    .filter((w) => !/^v\d+$/i.test(w) && !/^\d{1,4}(q|h)\d$/i.test(w) && !MONTHS.has(w.toLowerCase()))
    .map((w) => w.replace(/(\d+([qh]\d)?)$/i, '').replace(/^\d+/, ''))
    .filter((w) => w !== '' && !MONTHS.has(w.toLowerCase()));
  const name = words.join(separator).normalize('NFKD').replace(/[^A-Za-z0-9_.-]/g, '').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return name || 'import';
}
