/** Human output: aligned tables and key/value blocks. `--json` output bypasses this. */

/** A cell of a table: anything printable; null/undefined shows as '-'. */
export type Cell = string | number | boolean | null | undefined;

const show = (cell: Cell): string => (cell === null || cell === undefined || cell === '' ? '-' : String(cell));

/** Renders rows as columns aligned under upper-case headers. */
export function table(headers: string[], rows: Cell[][]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(show))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** Renders `key  value` lines with the keys aligned. */
export function keyValues(pairs: [string, Cell][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${show(v)}`).join('\n');
}

/** A timestamp (ms) as an ISO date, or '-'. */
export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}

/** Shortens long text for a table cell. */
export function clip(text: string | undefined, max = 40): string | undefined {
  return text !== undefined && text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Pretty JSON for `--json` output. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
