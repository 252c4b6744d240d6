/** Formatting for the one result table: aligned plain-text columns, numbers, bytes. */

/** One row: phase, measured, target, verdict, wire. A row of one cell is a section line. */
export type Row = string[];

/** Renders rows under a header with aligned columns. */
export function renderTable(header: Row, rows: Row[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => (r[c] ?? '').length)));
  const line = (r: Row) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(header), rule];
  for (const r of rows) out.push(r.length === 1 ? r[0]! : line(r));
  out.push(rule);
  return out.join('\n');
}

/** Percentile (nearest rank) of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Milliseconds, human-sized. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** Bytes, human-sized (binary units). */
export function bytes(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 1024 * 1024 * 1024) return `${(value / 1024 ** 3).toFixed(2)} GiB`;
  if (value >= 1024 * 1024) return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${value} B`;
}

/** Integer with thousands separators. */
export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Throughput of `count` items in `msValue`. */
export function rate(count: number, msValue: number, unit = '/s'): string {
  return `${int((count / msValue) * 1000)}${unit}`;
}

/** 'ok' or 'MISS' for a "lower is better" target. */
export function verdict(value: number, limit: number): string {
  return value < limit ? 'ok' : 'MISS';
}

/** Wire bytes in both directions. */
export function wire(w: { ab: number; ba: number } | undefined): string {
  return w ? `${bytes(w.ab)} / ${bytes(w.ba)}` : '-';
}
