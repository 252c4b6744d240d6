/**
 * The transform steps of a mapping, forwards (source value to field value) and, where
 * a step can be undone, backwards (field value to source value, for export). Pure; a
 * value a step cannot take throws a TransformError that rejects the row.
 */
import { format as formatDate, isValid, parse as parseDate, parseISO } from 'date-fns';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import type { Mapping, Transform } from './schema.js';

/** A value flowing through a transform pipeline. */
export type Value = string | number | boolean | string[];

/** A value a transform cannot take: the reason goes to the rejects file. */
export class TransformError extends Error {
  override name = 'TransformError';
}

/**
 * A value a lenient step cannot normalise but keeps: the field is left alone and the
 * raw text goes to another field (`keepIn`, default custom.<field>_raw), not to the rejects.
 */
export class KeepRawValue extends Error {
  override name = 'KeepRawValue';
  constructor(readonly raw: string, readonly keepIn: string | undefined, reason: string) {
    super(reason);
  }
}

const emailSchema = z.email();

/** "ada LOVELACE" → "Ada Lovelace"; keeps O'Neil and Smith-Jones readable. */
export function titleCase(text: string): string {
  return text.toLowerCase().replace(/(^|[\s'’-])(\p{L})/gu, (_, sep: string, ch: string) => sep + ch.toUpperCase());
}

/** Splits a full name: "Lovelace, Ada" or "Ada King Lovelace" (last word is the surname). */
export function splitName(full: string): { first: string; last: string } {
  const text = full.trim().replace(/\s+/g, ' ');
  const comma = text.indexOf(',');
  if (comma >= 0) return { first: text.slice(comma + 1).trim(), last: text.slice(0, comma).trim() };
  const space = text.lastIndexOf(' ');
  return space < 0 ? { first: '', last: text } : { first: text.slice(0, space), last: text.slice(space + 1) };
}

/**
 * Values a memo of parsed cells keeps before it starts again. Date and phone columns
 * repeat values (days, a company's switchboard), and a parse costs 10 to 20 µs
 * (date-fns, libphonenumber) against well under 1 µs for a hit. Both parsers are pure,
 * so a remembered result is the result.
 */
export const PARSE_MEMO_ENTRIES = 4096;

/** A bounded memo: cleared when full, so memory stays bounded whatever the column holds. */
class Memo<T> {
  readonly #entries = new Map<string, T>();
  get(key: string): T | undefined {
    return this.#entries.get(key);
  }
  set(key: string, value: T): T {
    if (this.#entries.size >= PARSE_MEMO_ENTRIES) this.#entries.clear();
    this.#entries.set(key, value);
    return value;
  }
}

/** What a date format says about its values, read once per format. */
interface DateFormatInfo {
  /** It names its own zone: offset tokens (X, x, O) outside quoted literals. */
  zoned: boolean;
  /** It has a time of day or an instant (date-fns tokens outside quoted literals). */
  withTime: boolean;
}
const formatInfos = new Memo<DateFormatInfo>();
function formatInfo(format: string): DateFormatInfo {
  const known = formatInfos.get(format);
  if (known) return known;
  const unquoted = format.replace(/'[^']*'/g, '');
  return formatInfos.set(format, { zoned: /[XxO]/.test(unquoted), withTime: /[HhKkmsSaBbpTtXxO]/.test(unquoted) });
}
const ZONED_ISO = /(Z|[+-]\d\d:?\d\d)$/i;
const EPOCH_MS = /^\d{10,15}$/;
/** An ISO 8601 text with a time part. */
const ISO_WITH_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d/;

/** The wall-clock time of a local Date read as UTC, so imports do not depend on TZ. */
const wallAsUtc = (d: Date) => Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());

/** Parsed dates by format and text (NaN for a text that is not a date). */
const parsedDates = new Memo<number>();

/** Parses a date text to ms, or NaN. */
function parseDateText(text: string, format: string | undefined): number {
  if (format) {
    const parsed = parseDate(text, format, new Date(0));
    return !isValid(parsed) ? NaN : formatInfo(format).zoned ? parsed.getTime() : wallAsUtc(parsed);
  }
  if (EPOCH_MS.test(text)) return Number(text);
  const parsed = parseISO(text);
  return !isValid(parsed) ? NaN : ZONED_ISO.test(text) ? parsed.getTime() : wallAsUtc(parsed);
}

/**
 * Parses a date to ms since the epoch. With a date-fns format ("dd.MM.yyyy"); without,
 * ISO 8601 or ms. A time without a zone is taken as UTC, on every machine.
 */
export function parseDateValue(value: Value, format?: string): number {
  if (typeof value === 'number') return value;
  const text = String(value).trim();
  const key = `${format ?? ''}\0${text}`;
  const ms = parsedDates.get(key) ?? parsedDates.set(key, parseDateText(text, format));
  if (!Number.isFinite(ms)) throw new TransformError(`"${text}" is not a date${format ? ` in the format ${format}` : ' (ISO 8601 expected; state a format in the mapping)'}`);
  return ms;
}

/**
 * A date as stored in a record: ISO 8601 text, so it reads the same in every export and
 * display. A date without a time of day (by its format, or an ISO text without one) is
 * `YYYY-MM-DD`; anything with a time is the full UTC instant `YYYY-MM-DDTHH:mm:ss.sssZ`.
 */
export function toIsoDate(value: Value, format?: string): string {
  const ms = parseDateValue(value, format);
  const iso = new Date(ms).toISOString();
  if (typeof value === 'number') return iso;
  const text = String(value).trim();
  const withTime = EPOCH_MS.test(text) || (format ? formatInfo(format).withTime : ISO_WITH_TIME.test(text));
  return withTime ? iso : iso.slice(0, 10);
}

/** A stored date (ISO text, or ms from imports before dates were stored as text) as ms; undefined if it is neither. */
export function storedDateMs(value: Value): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats ms as the mapping's date format (UTC wall time), or ISO 8601. */
export function formatDateValue(ms: number, format?: string): string {
  if (!format) return new Date(ms).toISOString();
  const d = new Date(ms);
  const wall = new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return formatDate(formatInfo(format).zoned ? d : wall, format);
}

const text = (value: Value): string => (Array.isArray(value) ? value.join(', ') : String(value));

/** Applies one step. */
export function applyTransform(step: Transform, value: Value, mapping: Mapping): Value {
  if (typeof step === 'object') {
    if ('phone' in step) return toPhone(value, step.phone.defaultCountry ?? mapping.defaults.phoneCountry, step.phone.invalid === 'keep', step.phone.keepIn);
    if ('date' in step) return toIsoDate(value, step.date.format);
    if ('replace' in step) return text(value).replace(new RegExp(step.replace.pattern, 'g'), step.replace.with);
    return lookup(mapping, step.lookup, value);
  }
  switch (step) {
    case 'trim': return text(value).trim();
    case 'collapse': return text(value).trim().replace(/\s+/g, ' ');
    case 'lower': return text(value).toLowerCase();
    case 'upper': return text(value).toUpperCase();
    case 'title': return titleCase(text(value));
    case 'email': return toEmail(value);
    case 'phone': return toPhone(value, mapping.defaults.phoneCountry);
    case 'date': return toIsoDate(value);
    case 'number': return toNumber(value, false);
    case 'integer': return toNumber(value, true);
    case 'boolean': return toBoolean(value);
    case 'firstName': return splitName(text(value)).first;
    case 'lastName': return splitName(text(value)).last;
    case 'tags': return Array.isArray(value) ? value : text(value).split(/[,;|]/).map((t) => t.trim()).filter(Boolean);
  }
}

function toEmail(value: Value): string {
  const email = text(value).trim().toLowerCase();
  if (!emailSchema.safeParse(email).success) throw new TransformError(`"${email}" is not a valid e-mail address`);
  return email;
}

/** Phone numbers by default country and text: as phoneText gives them, or null when invalid. */
const parsedPhones = new Memo<string | null>();

/**
 * To E.164, keeping an extension (x123, ext. 44, ;ext=44) in libphonenumber's notation:
 * "+12125550100 ext. 44"; null when the number is not valid.
 */
function phoneText(raw: string, country: string | undefined): string | null {
  const phone = parsePhoneNumberFromString(raw, country as CountryCode | undefined);
  if (!phone || !phone.isValid()) return null;
  return phone.ext ? `${phone.number} ext. ${phone.ext}` : phone.number;
}

/** A phone number as phoneText gives it. `keep`: an invalid number is kept raw instead of rejecting the row. */
function toPhone(value: Value, country: string | undefined, keep = false, keepIn?: string): string {
  const raw = text(value).trim();
  const key = `${country ?? ''}\0${raw}`;
  const remembered = parsedPhones.get(key);
  const normalised = remembered !== undefined ? remembered : parsedPhones.set(key, phoneText(raw, country));
  if (normalised === null) {
    const reason = `"${raw}" is not a valid phone number${country ? ` (default country ${country})` : ' (no default country: give one in the mapping)'}`;
    if (keep) throw new KeepRawValue(raw, keepIn, reason);
    throw new TransformError(reason);
  }
  return normalised;
}

function toNumber(value: Value, integer: boolean): number {
  if (typeof value === 'number') return integer ? Math.trunc(value) : value;
  const raw = text(value).trim();
  // Accept a decimal comma ("1,5") as spreadsheets in many locales write it.
  const normalised = /^-?\d+,\d+$/.test(raw) ? raw.replace(',', '.') : raw;
  const n = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(normalised) ? Number(normalised) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new TransformError(`"${raw}" is not ${integer ? 'an integer' : 'a number'}`);
  return n;
}

const TRUE = new Set(['true', 'yes', 'y', '1', 'x', 'ja', 'oui', 'si', 'on']);
const FALSE = new Set(['false', 'no', 'n', '0', 'nein', 'non', 'off']);

function toBoolean(value: Value): boolean {
  if (typeof value === 'boolean') return value;
  const raw = text(value).trim().toLowerCase();
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  throw new TransformError(`"${raw}" is not a yes/no value`);
}

/** Each lookup table with its source values trimmed and lowercased (the first of equal ones wins), made once per table. */
const normalisedTables = new WeakMap<Record<string, string>, Map<string, string>>();

function normalisedTable(table: Record<string, string>): Map<string, string> {
  let normalised = normalisedTables.get(table);
  if (!normalised) {
    normalised = new Map();
    for (const [from, to] of Object.entries(table)) {
      const wanted = from.trim().toLowerCase();
      if (!normalised.has(wanted)) normalised.set(wanted, to);
    }
    normalisedTables.set(table, normalised);
  }
  return normalised;
}

function lookup(mapping: Mapping, name: string, value: Value): string {
  const table = mapping.lookups[name] ?? {};
  const found = normalisedTable(table).get(text(value).trim().toLowerCase());
  if (found !== undefined) return found;
  if (table['*'] !== undefined) return table['*'];
  throw new TransformError(`"${text(value)}" is not in lookup table "${name}" (add it, or a "*" entry as the fallback)`);
}

/**
 * Undoes a step for export where that is meaningful: dates are formatted back, lookups
 * inverted (the first source value naming the field value); steps that lose
 * information (case, trim, phone formatting) leave the value as it is.
 */
export function reverseTransform(step: Transform, value: Value, mapping: Mapping): Value {
  if (typeof step === 'object') {
    if ('date' in step) {
      const ms = storedDateMs(value);
      return ms === undefined ? value : formatDateValue(ms, step.date.format);
    }
    if ('lookup' in step) {
      const entry = Object.entries(mapping.lookups[step.lookup] ?? {}).find(([from, to]) => to === value && from !== '*');
      return entry ? entry[0] : value;
    }
    return value;
  }
  if (step === 'date') return typeof value === 'number' ? formatDateValue(value) : value;
  if (step === 'tags' && Array.isArray(value)) return value.join(', ');
  return value;
}
