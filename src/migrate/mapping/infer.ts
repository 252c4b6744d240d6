/**
 * `crmsync import --infer FILE`: proposes a mapping from the column names and sample
 * rows, for a person to review and edit. What it decided from the values (date order,
 * phone country, source name) goes to `decisions` with the evidence; ambiguous ones are
 * marked, and general hints go to `comments`.
 */
import { ATOMIC_FIELDS, STAGES } from '../../index.js';
import { keptRawTarget } from './apply.js';
import { dateFinding, looksLikeDates, phoneFinding, sourceNameFrom, type Finding } from './infer-values.js';
import type { MappingInput, Transform } from './schema.js';

type FieldInput = MappingInput['fields'][string];
/** One decision of --infer (the mapping's `decisions`). */
export type Decision = NonNullable<MappingInput['decisions']>[number] & { ambiguous?: boolean };

/** What --infer knows besides the columns. */
export interface InferOptions {
  /** The file's name: the proposed sourceName is derived from it. */
  fileName?: string;
  /** A source name the user chose (--source-name); used as it is. */
  sourceName?: string;
}

/** Header spellings per record field, normalised (lower case, letters and digits only). */
const SYNONYMS: [target: string, names: string[], transforms: Transform[]][] = [
  ['email', ['email', 'emailaddress', 'mail', 'email1', 'primaryemail', 'emailadresse'], ['email']],
  ['phone', ['phone', 'phone1', 'phonenumber', 'telephone', 'tel', 'mobile', 'mobilephone', 'cell', 'cellphone', 'telefon', 'workphone'], ['phone']],
  ['company', ['company', 'companyname', 'organization', 'organisation', 'account', 'accountname', 'firm', 'firma', 'employer'], ['collapse']],
  ['title', ['title', 'jobtitle', 'position', 'role', 'jobrole'], ['collapse']],
  ['owner', ['owner', 'accountowner', 'contactowner', 'salesrep', 'rep', 'assignedto'], ['trim']],
  ['territory', ['territory', 'salesterritory', 'salesregion', 'area'], ['trim']],
  ['stage', ['stage', 'status', 'lifecyclestage', 'leadstatus', 'pipelinestage', 'dealstage'], [{ lookup: 'stages' }]],
  ['notes', ['notes', 'note', 'comments', 'comment', 'description', 'remarks'], []],
  ['tags', ['tags', 'labels', 'categories', 'tag', 'label'], ['tags']],
  ['interactions', ['interactions', 'touches', 'activities', 'activitycount'], ['integer']],
  ['address.street', ['street', 'address', 'address1', 'addressline1', 'streetaddress', 'strasse'], ['collapse']],
  ['address.city', ['city', 'town', 'ort', 'stadt'], ['collapse']],
  ['address.region', ['state', 'province', 'region', 'county', 'bundesland'], ['trim']],
  ['address.postcode', ['zip', 'zipcode', 'postcode', 'postalcode', 'plz', 'postleitzahl'], ['trim']],
  ['address.country', ['country', 'countrycode', 'land'], ['trim']],
];
const FULL_NAME = ['name', 'fullname', 'contactname', 'customername', 'contact', 'displayname'];
const FIRST_NAME = ['firstname', 'givenname', 'forename', 'vorname', 'first'];
const LAST_NAME = ['lastname', 'surname', 'familyname', 'nachname', 'last'];
const ID = ['id', 'customerid', 'externalid', 'contactid', 'accountid', 'recordid', 'uuid', 'customernumber', 'customerno', 'kundennummer'];
const WATERMARK = ['updatedat', 'updated', 'modified', 'modifiedat', 'lastmodified', 'lastmodifieddate', 'lastupdated', 'version', 'rowversion'];

/** Common source words for the record's stages. */
const STAGE_SYNONYMS: Record<string, string> = {
  prospect: 'lead', new: 'lead', open: 'lead', contacted: 'qualified', mql: 'qualified', sql: 'qualified',
  opportunity: 'proposal', quote: 'proposal', quoted: 'proposal', client: 'customer', active: 'customer',
  'closed won': 'won', 'closed lost': 'lost', inactive: 'churned', cancelled: 'churned', canceled: 'churned',
  former: 'churned', lapsed: 'churned', 'ex-customer': 'churned', prospective: 'lead', 'in negotiation': 'negotiation',
  negotiating: 'negotiation', 'proposal sent': 'proposal', interested: 'qualified', kunde: 'customer', interessent: 'lead',
};

const norm = (header: string) => header.toLowerCase().replace(/[^a-z0-9]/g, '');

/** "Subscription Date" → "subscriptionDate" (a custom field key). */
export function customKey(header: string): string {
  const words = header.replace(/([a-z])([A-Z])/g, '$1 $2').split(/[^A-Za-z0-9]+/).filter(Boolean);
  const key = words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join('');
  return (key || 'field').slice(0, 64);
}

const looksLikeDate = (header: string) => /date|(^|[^a-z])(at|on|since)$|datum|birthday|created|updated|modified/i.test(header.replace(/([a-z])([A-Z])/g, '$1 $2'));

/** Proposes a mapping for the given columns; `samples` are rows of the file. */
export function inferMapping(headers: string[], samples: Record<string, unknown>[] = [], options: InferOptions = {}): MappingInput {
  const fields: Record<string, FieldInput> = {};
  const comments: string[] = ['Proposed by crmsync import --infer: review every field (see "decisions" for what was decided from the values), then import with --mapping.'];
  const decisions: Decision[] = [];
  const decide = (field: string | undefined, finding: Finding) => decisions.push({ ...(field ? { field } : {}), decision: finding.decision, why: finding.why, ...(finding.ambiguous ? { ambiguous: true } : {}) });
  const used = new Set<string>();
  const find = (names: string[]) => headers.find((h) => !used.has(h) && names.includes(norm(h)));
  const take = (header: string | undefined) => (header === undefined ? undefined : (used.add(header), header));
  const values = (header: string) => samples.map((row) => row[header]);

  const sourceName = options.sourceName ?? (options.fileName ? sourceNameFrom(options.fileName) : undefined);
  if (sourceName) {
    decide('sourceName', options.sourceName
      ? { decision: `"${sourceName}"`, why: 'given with --source-name' }
      : { decision: `"${sourceName}"`, why: `the file name ${options.fileName} without dates and numbers, so later exports of the same system (another month, another number) land on the same records; give each different system its own name` });
  }
  const idColumn = take(find(ID));
  const first = take(find(FIRST_NAME));
  const last = take(find(LAST_NAME));
  const full = first || last ? undefined : take(find(FULL_NAME));
  if (first || last) fields.name = { columns: [first, last].filter((c): c is string => c !== undefined), transforms: ['collapse'] };
  else if (full) fields.name = { column: full, transforms: ['collapse'] };
  else comments.push('No name column found: map "name" (required for new records).');
  for (const [target, names, transforms] of SYNONYMS) {
    const header = take(find(names));
    if (header) fields[target] = { column: header, ...(transforms.length ? { transforms } : {}) };
  }
  // A field of the record schema without synonyms here (a newer one) is found under its own name.
  for (const field of ATOMIC_FIELDS.filter((f) => fields[f] === undefined)) {
    const header = take(find([norm(field)]));
    if (header) fields[field] = { column: header, transforms: ['trim'] };
  }
  if (idColumn) fields['custom.sourceId'] = { column: idColumn, transforms: ['trim'] };
  for (const header of headers.filter((h) => !used.has(h))) {
    const key = `custom.${customKey(header)}`;
    if (fields[key]) continue;
    const lower = norm(header);
    if (looksLikeDate(header) || looksLikeDates(values(header))) {
      const finding = dateFinding(values(header));
      fields[key] = { column: header, transforms: [finding?.format ? { date: { format: finding.format } } : 'date'] };
      if (finding) decide(key, finding);
      else comments.push(`${key}: dates are read as ISO 8601; if "${header}" is written otherwise, state its format, e.g. {"date": {"format": "dd.MM.yyyy"}}.`);
    } else if (lower.startsWith('phone') || lower.startsWith('mobile') || lower.startsWith('tel')) {
      fields[key] = { column: header, transforms: ['phone'] };
    } else if (lower.startsWith('email')) {
      fields[key] = { column: header, transforms: ['email'] };
    } else {
      fields[key] = { column: header, transforms: ['trim'] };
    }
  }
  const country = lenientPhones(fields, values, samples, decide);
  const watermark = headers.find((h) => WATERMARK.includes(norm(h)));
  const watermarkFormat = watermark ? dateFinding(values(watermark))?.format : undefined;
  comments.push(idColumn ? `Rows are identified by "${idColumn}" (key.column).` : 'No id column found: rows are identified by their e-mail (key.field).');
  if (fields.stage) comments.push('Check lookups.stages: every source status must map to one of ' + STAGES.join(', ') + ' (a "*" entry is the fallback).');
  if (watermark) comments.push(`For --incremental, "${watermark}" looks like a watermark column.`);
  const stages = Object.fromEntries([...STAGES.map((s) => [s, s]), ...Object.entries(STAGE_SYNONYMS)]);
  if (fields.stage?.column) unknownStages(values(fields.stage.column), stages, decide);
  return {
    version: 1,
    ...(sourceName ? { sourceName } : {}),
    comments,
    decisions,
    key: idColumn ? { column: idColumn } : { field: 'email' },
    ...(watermark ? { watermark: { column: watermark, ...(watermarkFormat ? { format: watermarkFormat } : {}) } } : {}),
    ...(country !== null ? { defaults: country ? { phoneCountry: country } : {} } : {}),
    fields,
    ...(fields.stage ? { lookups: { stages } } : {}),
  };
}

/**
 * Turns every phone field lenient (a number that does not normalise is kept raw in
 * custom.<field>_raw instead of rejecting the row) and finds the default country from
 * the values. Returns the country, undefined when none could be found, null without phones.
 */
function lenientPhones(
  fields: Record<string, FieldInput>, values: (header: string) => unknown[], samples: Record<string, unknown>[],
  decide: (field: string, finding: Finding) => void,
): string | undefined | null {
  const phones = Object.entries(fields).filter(([, f]) => f.transforms?.includes('phone'));
  if (phones.length === 0) return null;
  const countryColumn = fields['address.country']?.column;
  const hint = countryColumn ? mostCommon(samples.map((r) => r[countryColumn]).filter((v): v is string => typeof v === 'string' && /^[A-Z]{2}$/.test(v.trim()))) : undefined;
  const finding = phoneFinding(phones.flatMap(([, f]) => values(f.column!)), hint);
  for (const [target, spec] of phones) {
    spec.transforms = spec.transforms!.map((t) => (t === 'phone' ? { phone: { invalid: 'keep' } } : t));
    if (finding) decide(target, { ...finding, decision: `${finding.decision}; values that do not normalise go to ${keptRawTarget(target)}` });
  }
  return finding?.country;
}

/** Status values the proposed lookup does not know: their rows would be rejected until someone adds them. */
function unknownStages(values: unknown[], stages: Record<string, string>, decide: (field: string, finding: Finding) => void): void {
  const known = new Set(Object.keys(stages));
  const unknown = [...new Set(values.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim()))]
    .filter((v) => !known.has(v.toLowerCase()));
  if (unknown.length === 0) return;
  decide('stage', {
    decision: 'status values without a stage', ambiguous: true,
    why: `${unknown.length} status value${unknown.length === 1 ? '' : 's'} in the samples (${unknown.slice(0, 5).map((v) => JSON.stringify(v)).join(', ')}) ${unknown.length === 1 ? 'is' : 'are'} not in lookups.stages, so those rows would be rejected: add ${unknown.length === 1 ? 'it' : 'them'}, or a "*" fallback`,
  });
}

function mostCommon(list: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of list) counts.set(v.trim(), (counts.get(v.trim()) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}
