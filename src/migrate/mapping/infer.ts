/**
 * `crmsync import --infer FILE`: proposes a mapping from the column names (and, when
 * given, a few sample rows to guess date formats), for a person to review and edit.
 * Heuristics only; everything it is unsure about goes to `comments`.
 */
import { STAGES } from '../../index.js';
import type { MappingInput, Transform } from './schema.js';
import { parseDateValue } from './transforms.js';

type FieldInput = MappingInput['fields'][string];

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

/** Date formats tried on sample values, most specific first. */
const DATE_FORMATS = ['yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd', 'dd.MM.yyyy HH:mm', 'dd.MM.yyyy', 'MM/dd/yyyy', 'dd/MM/yyyy', 'd.M.yyyy', 'M/d/yyyy'];

/** Common source words for the record's stages. */
const STAGE_SYNONYMS: Record<string, string> = {
  prospect: 'lead', new: 'lead', open: 'lead', contacted: 'qualified', mql: 'qualified', sql: 'qualified',
  opportunity: 'proposal', quote: 'proposal', quoted: 'proposal', client: 'customer', active: 'customer',
  'closed won': 'won', 'closed lost': 'lost', inactive: 'churned', cancelled: 'churned', canceled: 'churned',
};

const norm = (header: string) => header.toLowerCase().replace(/[^a-z0-9]/g, '');

/** "Subscription Date" → "subscriptionDate" (a custom field key). */
export function customKey(header: string): string {
  const words = header.replace(/([a-z])([A-Z])/g, '$1 $2').split(/[^A-Za-z0-9]+/).filter(Boolean);
  const key = words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join('');
  return (key || 'field').slice(0, 64);
}

/** The first format every sample value parses with, or undefined (ISO then). */
function dateFormatOf(samples: unknown[]): string | undefined {
  const texts = samples.filter((v): v is string => typeof v === 'string' && v.trim() !== '');
  if (texts.length === 0) return undefined;
  const parses = (format?: string) => texts.every((t) => {
    try {
      parseDateValue(t, format);
      return true;
    } catch {
      return false;
    }
  });
  if (parses()) return undefined;
  return DATE_FORMATS.find((f) => parses(f));
}

const looksLikeDate = (header: string) => /date|(^|[^a-z])(at|on|since)$|datum|birthday|created|updated|modified/i.test(header.replace(/([a-z])([A-Z])/g, '$1 $2'));

/** Proposes a mapping for the given columns; `samples` are a few rows of the file. */
export function inferMapping(headers: string[], samples: Record<string, unknown>[] = []): MappingInput {
  const fields: Record<string, FieldInput> = {};
  const comments: string[] = ['Proposed by crmsync import --infer: review every field, then import with --mapping.'];
  const used = new Set<string>();
  const find = (names: string[]) => headers.find((h) => !used.has(h) && names.includes(norm(h)));
  const take = (header: string | undefined) => (header === undefined ? undefined : (used.add(header), header));

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
  if (idColumn) fields['custom.sourceId'] = { column: idColumn, transforms: ['trim'] };
  const watermark = headers.find((h) => WATERMARK.includes(norm(h)));
  for (const header of headers.filter((h) => !used.has(h))) {
    const key = `custom.${customKey(header)}`;
    if (fields[key]) continue;
    if (looksLikeDate(header)) {
      const format = dateFormatOf(samples.map((row) => row[header]));
      fields[key] = { column: header, transforms: [format ? { date: { format } } : 'date'] };
      if (!format) comments.push(`${key}: dates are read as ISO 8601; if "${header}" is written otherwise, state its format, e.g. {"date": {"format": "dd.MM.yyyy"}}.`);
    } else if (norm(header).startsWith('phone') || norm(header).startsWith('mobile')) {
      fields[key] = { column: header, transforms: ['phone'] };
    } else if (norm(header).startsWith('email')) {
      fields[key] = { column: header, transforms: ['email'] };
    } else {
      fields[key] = { column: header, transforms: ['trim'] };
    }
  }
  const usesPhone = Object.values(fields).some((f) => f.transforms?.includes('phone'));
  if (usesPhone) comments.push('Phone numbers without a +country prefix need defaults.phoneCountry (e.g. "DE" or "US").');
  comments.push(idColumn ? `Rows are identified by "${idColumn}" (key.column).` : 'No id column found: rows are identified by their e-mail (key.field).');
  if (fields.stage) comments.push('Check lookups.stages: every source status must map to one of ' + STAGES.join(', ') + ' (a "*" entry is the fallback).');
  if (watermark) comments.push(`For --incremental, "${watermark}" looks like a watermark column.`);
  const stages = Object.fromEntries([...STAGES.map((s) => [s, s]), ...Object.entries(STAGE_SYNONYMS)]);
  return {
    version: 1,
    comments,
    key: idColumn ? { column: idColumn } : { field: 'email' },
    ...(watermark ? { watermark: { column: watermark } } : {}),
    ...(usesPhone ? { defaults: {} } : {}),
    fields,
    ...(fields.stage ? { lookups: { stages } } : {}),
  };
}
