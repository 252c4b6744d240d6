/** Console formatting for the demo: steps, customer cards, tables. Plain text; bold only on a TTY. */
import type { RecordView } from '../src/index.js';

const bold = process.stdout.isTTY && !process.env.CI && !process.env.NO_COLOR
  ? (s: string) => `\x1b[1m${s}\x1b[22m` : (s: string) => s;

let step = 0;

/** A numbered step heading. */
export function heading(title: string): void {
  step++;
  console.log(`\n${bold(`── ${step}. ${title} `)}${'─'.repeat(Math.max(3, 70 - title.length))}`);
}

/** An indented line of narration. */
export function say(...lines: string[]): void {
  for (const line of lines) console.log(`   ${line}`);
}

/** A compact clock, e.g. "berlin:201 laptop-anna:2 london:1". */
export function clockText(clock: Record<string, number>): string {
  const parts = Object.entries(clock).sort(([a], [b]) => a.localeCompare(b)).map(([node, seq]) => `${node}:${seq}`);
  return parts.length ? parts.join(' ') : '(empty)';
}

/** Left-aligned columns with a header rule. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => say(cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  line(header);
  line(widths.map((w) => '─'.repeat(w)));
  rows.forEach(line);
}

/** The fields of a customer the story is about, as seen on one node. */
export function customerCard(node: string, view: RecordView | null): void {
  say(bold(`[${node}]`));
  if (!view) return say('   (record not found)');
  const field = (label: string, value: string) => say(`   ${label.padEnd(13)}${value}`);
  field('name', `${view.name}${view.deleted ? '   (DELETED)' : ''}`);
  field('company', view.company ?? '—');
  field('phone', view.phone ?? '—');
  field('stage', view.stage ?? '—');
  field('title', view.title ?? '—');
  field('tags', view.tags.join(', ') || '—');
  field('interactions', String(view.interactions));
  view.notes.split('\n').forEach((line, i) => field(i === 0 ? 'notes' : '', line));
  field('conflicts', view.conflicts.length ? view.conflicts.join(', ') : 'none');
}

/** Milliseconds as "850 ms" or "2.4 s". */
export function ms(value: number): string {
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}
