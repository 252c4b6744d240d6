/**
 * Speed of the change codec against Automerge's own decodeChange/encodeChange, per change,
 * for three typical record changes. Run: `npx tsx bench/change-codec.ts`.
 *
 * Each cell is the best of several rounds of a timed loop (the machine is shared, so the
 * best round is the least disturbed one).
 */
import * as A from '@automerge/automerge';
// The codec is not exported from src/index.ts yet (the lead wires it in); until then the
// bench imports it directly.
import { decodeChange, encodeChange } from '../src/crdt/change-codec/index.js';

const FIELDS = ['name', 'email', 'phone', 'company', 'title', 'stage', 'owner', 'city', 'country', 'source', 'industry', 'website', 'segment'];
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const ROUND_MS = Number(process.env.ROUND_MS ?? 150);

function record(n: number): Record<string, A.ImmutableString> {
  return Object.fromEntries(FIELDS.slice(0, n).map((f) => [f, new A.ImmutableString(`${f}: some value ${f.length}`)]));
}

/** The three changes: a 1-field edit, a 13-field creation, a creation with a 150-character text. */
function changes(): Array<{ label: string; bytes: Uint8Array }> {
  const created = A.from<any>(record(13), { actor: 'aabbccddeeff0011' });
  const edited = A.change(A.clone(created, { actor: '1122334455667788' }), (d) => {
    d.stage = new A.ImmutableString('won');
  });
  const withText = A.from<any>({ ...record(12), notes: 'Met at the trade fair; wants a quote for 40 seats, call back in May. '.repeat(3).slice(0, 150) }, {
    actor: 'aabbccddeeff0011',
  });
  return [
    { label: '1-field edit', bytes: A.getLastLocalChange(edited)! },
    { label: '13-field creation', bytes: A.getLastLocalChange(created)! },
    { label: 'creation + 150-char text', bytes: A.getLastLocalChange(withText)! },
  ];
}

/** Microseconds per call of `fn`: the best round. */
function time(fn: () => unknown): number {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ROUND_MS) {
      for (let i = 0; i < 50; i++) fn();
      calls += 50;
      now = performance.now();
    }
    best = Math.min(best, ((now - start) * 1000) / calls);
  }
  return best;
}

const rows: string[][] = [];
for (const { label, bytes } of changes()) {
  const ours = decodeChange(bytes);
  const theirs = A.decodeChange(bytes);
  if (Buffer.compare(encodeChange(ours), bytes) !== 0) throw new Error(`${label}: encode(decode(bytes)) differs`);
  const cells = [
    time(() => decodeChange(bytes)),
    time(() => A.decodeChange(bytes)),
    time(() => encodeChange(ours)),
    time(() => A.encodeChange(theirs)),
  ];
  rows.push([label, `${bytes.length} B, ${ours.ops.length} ops`, ...cells.map((us) => us.toFixed(1))]);
}

const header = ['change', 'size', 'decode µs', 'A.decodeChange µs', 'encode µs', 'A.encodeChange µs'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
