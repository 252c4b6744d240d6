/**
 * Deterministic, seeded fake CRM customers for the demo. The same seed always yields
 * the same records (ids, names, companies, contact details, stages, tags, notes), so
 * every run tells the same story.
 */
import { seededRandom, STAGES, type RecordInputLike } from '../src/index.js';

const FIRST = [
  'Anna', 'Ben', 'Clara', 'David', 'Elif', 'Felix', 'Greta', 'Hannah', 'Ilja', 'Jonas', 'Katarzyna', 'Lukas',
  'Mia', 'Noah', 'Olivia', 'Paul', 'Quentin', 'Rosa', 'Sofia', 'Tom', 'Ursula', 'Viktor', 'Wiebke', 'Yusuf',
  'Zoe', 'Amelia', 'Oliver', 'Isla', 'Harry', 'Priya', 'Mateo', 'Lena', 'Emre', 'Freya', 'Aisha', 'Liam',
];
const LAST = [
  'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Koch', 'Richter', 'Wolf',
  'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Evans', 'Thomas', 'Patel', 'Khan',
  'Nowak', 'Kowalski', 'Jansen', 'de Vries', 'Lindqvist', 'Novak', 'Yilmaz', 'Rossi', 'Dubois', 'Garcia',
];
const COMPANY_STEM = [
  'Nordlicht', 'Spree', 'Thames', 'Harbour', 'Alpen', 'Blue Finch', 'Kestrel', 'Lindenhof', 'Brightwater',
  'Ironbridge', 'Rheinwerk', 'Oakfield', 'Polaris', 'Elbe', 'Greenway', 'Stellar', 'Hanse', 'Riverside',
];
const COMPANY_KIND = ['Logistik', 'Analytics', 'Software', 'Foods', 'Energy', 'Robotics', 'Media', 'Health', 'Textiles', 'Capital'];
const COMPANY_FORM: Record<string, string> = { DE: 'GmbH', GB: 'Ltd', NL: 'B.V.', FR: 'SAS', PL: 'sp. z o.o.', SE: 'AB' };
const TITLES = [
  'Head of Procurement', 'Purchasing Manager', 'CTO', 'CFO', 'Operations Director', 'IT Manager',
  'Managing Director', 'Head of Sales', 'Category Manager', 'Facilities Lead', 'VP Engineering', 'Office Manager',
];
const OWNERS = ['Anna Berg', 'Marco Klein', 'Sarah Hughes', 'Tomasz Lewandowski', 'Ines Duarte'];
const TAGS = ['enterprise', 'smb', 'newsletter', 'trade fair', 'referral', 'renewal due', 'upsell', 'pilot', 'priority', 'public sector'];
const STREETS: Record<string, string[]> = {
  DE: ['Hauptstraße', 'Kanalweg', 'Lindenallee', 'Friedrichstraße'], GB: ['High Street', 'Station Road', 'Market Square', 'Church Lane'],
  NL: ['Keizersgracht', 'Damrak', 'Prinsengracht'], FR: ['Rue de la Paix', 'Boulevard Haussmann', 'Rue Oberkampf'],
  PL: ['ulica Marszałkowska', 'Aleje Jerozolimskie'], SE: ['Drottninggatan', 'Sveavägen', 'Götgatan'],
};

interface City {
  city: string;
  country: string;
  region: string;
  territory: string;
  /** Phone prefix and area code, e.g. '+49 30'. */
  dial: string;
  postcode: () => string;
}

const digits = (rnd: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');

function cities(rnd: () => number): City[] {
  const de = (city: string, region: string, dial: string, pc: string): City => ({
    city, country: 'DE', region, territory: 'DACH', dial, postcode: () => pc + digits(rnd, 3),
  });
  const gb = (city: string, region: string, dial: string, pc: string): City => ({
    city, country: 'GB', region, territory: 'UK & Ireland', dial, postcode: () => `${pc}${1 + Math.floor(rnd() * 9)} ${digits(rnd, 1)}AB`,
  });
  return [
    de('Berlin', 'Berlin', '+49 30', '10'), de('Hamburg', 'Hamburg', '+49 40', '20'), de('Munich', 'Bavaria', '+49 89', '80'),
    de('Cologne', 'North Rhine-Westphalia', '+49 221', '50'), gb('London', 'Greater London', '+44 20', 'EC'),
    gb('Manchester', 'Greater Manchester', '+44 161', 'M'), gb('Edinburgh', 'Scotland', '+44 131', 'EH'),
    { city: 'Amsterdam', country: 'NL', region: 'North Holland', territory: 'Benelux', dial: '+31 20', postcode: () => `10${digits(rnd, 2)} AB` },
    { city: 'Paris', country: 'FR', region: 'Île-de-France', territory: 'France', dial: '+33 1', postcode: () => `750${digits(rnd, 2)}` },
    { city: 'Warsaw', country: 'PL', region: 'Masovia', territory: 'CEE', dial: '+48 22', postcode: () => `0${digits(rnd, 1)}-${digits(rnd, 3)}` },
    { city: 'Stockholm', country: 'SE', region: 'Stockholm County', territory: 'Nordics', dial: '+46 8', postcode: () => `1${digits(rnd, 2)} ${digits(rnd, 2)}` },
  ];
}

const NOTE_OPENERS = [
  'Met at the {fair} booth; interested in the {kind} bundle.',
  'Inbound lead via website form; asked for pricing on {n} seats.',
  'Referred by an existing customer; wants a demo before Q{q}.',
  'Renewal conversation started; budget approved for {n} licences.',
  'Cold outreach reply; evaluating us against two competitors.',
];
const NOTE_FOLLOW = [
  'Prefers e-mail over calls.', 'Decision expected end of month.', 'Needs a DPA before signing.',
  'Send case study from the {kind} sector.', 'Follow up after their board meeting.', 'Asked about SSO and audit logs.',
];

/** Generates `count` customers with ids cus-0001… from `seed`. */
export function fakeCustomers(count: number, seed = 42): RecordInputLike[] {
  const rnd = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const places = cities(rnd);
  const out: RecordInputLike[] = [];
  for (let i = 1; i <= count; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const place = pick(places);
    const kind = pick(COMPANY_KIND);
    const stem = pick(COMPANY_STEM);
    const company = `${stem} ${kind} ${COMPANY_FORM[place.country] ?? 'Ltd'}`;
    const domain = `${stem}-${kind}`.toLowerCase().replace(/[^a-z-]+/g, '');
    const tld = place.country === 'GB' ? 'co.uk' : place.country.toLowerCase();
    const local = `${first}.${last}`.toLowerCase().replace(/[^a-z.]+/g, '');
    const tags = [...new Set([pick(TAGS), pick(TAGS)])].slice(0, 1 + Math.floor(rnd() * 2));
    const fill = (s: string) =>
      s.replace('{fair}', pick(['CeBIT', 'Web Summit', 'SaaStr', 'Hannover Messe']))
        .replace('{kind}', kind.toLowerCase()).replace('{n}', String(5 + Math.floor(rnd() * 200)))
        .replace('{q}', String(1 + Math.floor(rnd() * 4)));
    out.push({
      id: `cus-${String(i).padStart(4, '0')}`,
      name: `${first} ${last}`,
      email: `${local}@${domain}.${tld}`,
      phone: `${place.dial} ${digits(rnd, 3)} ${digits(rnd, 4)}`,
      company,
      title: pick(TITLES),
      address: { street: `${pick(STREETS[place.country] ?? ['Main Street'])} ${1 + Math.floor(rnd() * 120)}`, city: place.city, region: place.region, postcode: place.postcode(), country: place.country },
      owner: pick(OWNERS),
      territory: place.territory,
      stage: pick(STAGES),
      tags,
      notes: `${fill(pick(NOTE_OPENERS))} ${fill(pick(NOTE_FOLLOW))}`,
      interactions: Math.floor(rnd() * 25),
    });
  }
  return out;
}
