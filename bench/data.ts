/**
 * Deterministic fake customer data for the benchmark: the same seed gives the same
 * records in every process (the parent and both agents generate them independently).
 */
import { seededRandom, type RecordInputLike, type RecordPatchLike } from '../src/index.js';

const FIRST = ['Anna', 'Ben', 'Clara', 'David', 'Elif', 'Felix', 'Greta', 'Hassan', 'Ines', 'Jonas', 'Katrin', 'Lukas', 'Maria', 'Noah', 'Olga', 'Paul', 'Quentin', 'Rosa', 'Stefan', 'Tanja', 'Umut', 'Vera', 'Wei', 'Xenia', 'Yusuf', 'Zoe', 'Amelia', 'Oliver', 'Sofia', 'Mateo', 'Priya', 'Kenji'];
const LAST = ['Schmidt', 'Müller', 'Weber', 'Fischer', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Schulz', 'Koch', 'Richter', 'Klein', 'Wolf', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun', 'Hartmann', 'Smith', 'Johnson', 'Garcia', 'Rossi', 'Dubois', 'Nowak', 'Jensen', 'Silva', 'Tanaka', 'Patel', 'Kowalski', 'Novak'];
const COMPANY_A = ['Nord', 'Alpen', 'Rhein', 'Blue', 'Silver', 'Green', 'Atlas', 'Nova', 'Vector', 'Falcon', 'Summit', 'Harbor', 'Cedar', 'Orbit', 'Pioneer', 'Zenith'];
const COMPANY_B = ['Logistik', 'Systems', 'Analytics', 'Energy', 'Foods', 'Robotics', 'Health', 'Finance', 'Media', 'Labs', 'Motors', 'Textil', 'Software', 'Consulting'];
const LEGAL = ['GmbH', 'AG', 'Ltd', 'Inc.', 'SE', 'KG', 'B.V.', 'S.A.'];
const TITLES = ['CEO', 'CTO', 'CFO', 'Head of Procurement', 'IT Manager', 'Purchasing Lead', 'VP Sales', 'Operations Director', 'Product Owner', 'Office Manager', 'Engineering Manager', 'Buyer'];
const STREETS = ['Hauptstraße', 'Bahnhofstraße', 'Gartenweg', 'Lindenallee', 'Schillerstraße', 'Market Street', 'High Street', 'Rue de la Paix', 'Via Roma', 'Kaiserdamm'];
const CITIES: [string, string, string][] = [
  ['Berlin', 'Berlin', 'DE'], ['Hamburg', 'Hamburg', 'DE'], ['München', 'Bayern', 'DE'], ['Köln', 'NRW', 'DE'],
  ['Wien', 'Wien', 'AT'], ['Zürich', 'ZH', 'CH'], ['Amsterdam', 'NH', 'NL'], ['Paris', 'IDF', 'FR'],
  ['London', 'Greater London', 'GB'], ['Milano', 'Lombardia', 'IT'], ['Warszawa', 'Mazowieckie', 'PL'], ['Stockholm', 'Stockholm', 'SE'],
];
const OWNERS = ['alice', 'bob', 'carol', 'dmitri', 'eva', 'farid', 'gina', 'hugo', 'ivy', 'jan', 'kim', 'lena'];
const TERRITORIES = ['DACH-North', 'DACH-South', 'Benelux', 'France', 'UK-IE', 'Nordics', 'Italy', 'CEE'];
const STAGES = ['lead', 'qualified', 'proposal', 'negotiation', 'customer', 'won', 'lost', 'churned'] as const;
const TAGS = ['vip', 'newsletter', 'partner', 'trade fair 2024', 'inbound', 'outbound', 'renewal', 'upsell', 'at risk', 'reference'];
const WORDS = ['called', 'about', 'the', 'renewal', 'pricing', 'demo', 'next', 'week', 'prefers', 'email', 'budget', 'approved', 'for', 'Q3', 'asked', 'integration', 'with', 'their', 'ERP', 'follow', 'up', 'contract', 'draft', 'sent', 'meeting', 'on', 'site', 'visit'];

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const ascii = (s: string) => s.normalize('NFD').replace(/[^\x20-\x7e]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '');

/** Record id of customer i. */
export function recordId(i: number): string {
  return `cust-${i.toString().padStart(7, '0')}`;
}

/** Customer i of the data set generated from `seed` (independent of the others). */
export function makeRecord(i: number, seed: number): RecordInputLike {
  const r = seededRandom((seed * 1_000_003 + i) >>> 0);
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const company = `${pick(r, COMPANY_A)} ${pick(r, COMPANY_B)} ${pick(r, LEGAL)}`;
  const [city, region, country] = pick(r, CITIES);
  const tagCount = Math.floor(r() * 4);
  const tags = [...new Set(Array.from({ length: tagCount }, () => pick(r, TAGS)))];
  const noteWords = 8 + Math.floor(r() * 24);
  const notes = Array.from({ length: noteWords }, () => pick(r, WORDS)).join(' ') + '.';
  return {
    id: recordId(i),
    name: `${first} ${last}`,
    email: `${ascii(first)}.${ascii(last)}${i}@${ascii(company).slice(0, 16)}.example`,
    phone: `+${10 + Math.floor(r() * 89)} ${100 + Math.floor(r() * 900)} ${1_000_000 + Math.floor(r() * 9_000_000)}`,
    company,
    title: pick(r, TITLES),
    address: {
      street: `${pick(r, STREETS)} ${1 + Math.floor(r() * 200)}`,
      city, region, postcode: String(10000 + Math.floor(r() * 89999)), country,
    },
    owner: pick(r, OWNERS),
    territory: pick(r, TERRITORIES),
    stage: pick(r, STAGES),
    tags,
    notes,
  };
}

/** One single-field edit with a value unique to (tag, k): visible at the peer as field === value. */
export interface Edit {
  id: string;
  field: 'title' | 'phone' | 'owner' | 'company';
  value: string;
}

/** The patch that performs an edit. */
export function patchOf(edit: Edit): RecordPatchLike {
  return { [edit.field]: edit.value } as RecordPatchLike;
}

/** A unique value for a field; `tag` keeps values of different phases apart. */
export function uniqueValue(field: Edit['field'], tag: string, k: number): string {
  switch (field) {
    case 'phone':
      return `+1 555 ${tag.length}${k.toString().padStart(7, '0')}`;
    case 'owner':
      return `${tag}-owner-${k}`;
    case 'company':
      return `${tag} Holdings ${k}`;
    default:
      return `${tag} title ${k}`;
  }
}

/** `count` edits of one field on distinct records (starting at `start`, stepping `step`, mod n). */
export function editsOn(n: number, count: number, start: number, step: number, field: Edit['field'], tag: string): Edit[] {
  return Array.from({ length: count }, (_, k) => ({ id: recordId((start + k * step) % n), field, value: uniqueValue(field, tag, k) }));
}
