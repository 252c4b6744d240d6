/**
 * Import progress on stderr: a bar rewritten in place with rows/s and ETA on a
 * terminal, a plain line every PLAIN_INTERVAL_MS otherwise (logs, CI), nothing for
 * --json. Hand-written: one line of ANSI is not worth a dependency.
 */

/** How often a terminal bar is redrawn (ms). */
export const TTY_INTERVAL_MS = 200;
/** How often a plain progress line is printed when stderr is not a terminal (ms). */
export const PLAIN_INTERVAL_MS = 5000;

/** What progress shows. */
export interface ProgressSnapshot {
  /** Rows taken from the source in this run (including skipped ones). */
  scanned: number;
  /** Rows committed (or, in a dry run, evaluated). */
  committed: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** Bytes of the input read / total, when the source knows them. */
  position?: { done: number; total: number };
}

/** Receives progress. */
export interface ProgressReporter {
  update(snapshot: ProgressSnapshot): void;
  /** Clears a terminal bar (the final accounting is printed by the caller). */
  finish(): void;
}

/** Reports nothing (--json, tests). */
export const silentProgress: ProgressReporter = { update() {}, finish() {} };

/** Where progress goes. */
export interface ProgressTarget {
  write(text: string): void;
  isTTY: boolean;
  /** Terminal width (columns) when a TTY. */
  columns?: number;
  /** Milliseconds between plain lines (default PLAIN_INTERVAL_MS; 0: at every update). */
  plainIntervalMs?: number;
}

const BAR_WIDTH = 24;

const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
};

const n = (value: number) => value.toLocaleString('en-US');

/** Formats one progress line (exported for tests). */
export function progressLine(label: string, s: ProgressSnapshot, elapsedMs: number, tty: boolean): string {
  const rate = elapsedMs > 0 ? (s.scanned / elapsedMs) * 1000 : 0;
  const parts = [`${label}: ${n(s.scanned)} rows`, `${n(Math.round(rate))} rows/s`];
  if (s.position && s.position.total > 0) {
    const fraction = Math.min(1, s.position.done / s.position.total);
    const eta = fraction > 0 ? (elapsedMs / 1000) * (1 - fraction) / fraction : NaN;
    if (tty) parts.push(`[${'#'.repeat(Math.round(fraction * BAR_WIDTH)).padEnd(BAR_WIDTH, '-')}]`);
    parts.push(`${Math.floor(fraction * 100)}%`, `ETA ${duration(eta)}`);
  }
  parts.push(`(created ${n(s.created)}, updated ${n(s.updated)}, unchanged ${n(s.unchanged)}, rejected ${n(s.rejected)})`);
  return parts.join('  ');
}

/** A reporter for stderr: a bar on a TTY, periodic lines otherwise. */
export function streamProgress(label: string, target: ProgressTarget, now: () => number = Date.now): ProgressReporter {
  const started = now();
  // A terminal bar appears at once; plain lines only for runs long enough to need them.
  let last = target.isTTY ? -Infinity : started;
  let drawn = false;
  const interval = target.isTTY ? TTY_INTERVAL_MS : (target.plainIntervalMs ?? PLAIN_INTERVAL_MS);
  return {
    update(snapshot) {
      const t = now();
      if (t - last < interval) return;
      last = t;
      const line = progressLine(label, snapshot, t - started, target.isTTY);
      if (target.isTTY) {
        const width = Math.max(20, (target.columns ?? 100) - 1);
        target.write(`\r\x1b[2K${line.slice(0, width)}`);
        drawn = true;
      } else {
        target.write(`${line}\n`);
      }
    },
    finish() {
      if (drawn) target.write('\r\x1b[2K');
    },
  };
}
