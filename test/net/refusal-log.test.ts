import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { RefusalLog } from '../../src/net/refusal-log.js';

/** A RefusalLog on a fake clock whose lines are parsed back. */
function refusalLog(intervalMs = 1000) {
  let now = 0;
  const lines: Array<{ msg: string; reason: string; count: number; level: number; remoteAddress?: string }> = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  const log = new RefusalLog({ intervalMs, now: () => now, logger: createLogger({ level: 'debug', destination }) });
  return { log, lines, advance: (ms: number) => { now += ms; } };
}

describe('RefusalLog', () => {
  it('logs the first refusal of a reason at once, then at most one line per interval carrying the count since the last line', () => {
    const { log, lines, advance } = refusalLog(1000);
    log.refused('connections', { remoteAddress: '10.0.0.1' });
    for (let i = 0; i < 99; i++) {
      advance(5);
      log.refused('connections', { remoteAddress: '10.0.0.2' });
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'connection refused', reason: 'connections', count: 1, level: 40, remoteAddress: '10.0.0.1' });
    advance(1000 - 99 * 5 - 1);
    log.refused('connections');
    expect(lines).toHaveLength(1); // 999 ms after the line: still inside the interval
    advance(1);
    log.refused('connections');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ reason: 'connections', count: 101 }); // 99 + 1 suppressed, and this one
    expect(log.totals()).toEqual({ connections: 102 });
  });

  it('keeps an interval per reason', () => {
    const { log, lines, advance } = refusalLog(1000);
    log.refused('token');
    log.refused('address');
    log.refused('token');
    advance(10);
    log.refused('address');
    expect(lines.map((l) => [l.reason, l.count])).toEqual([['token', 1], ['address', 1]]);
    advance(1000);
    log.refused('address');
    log.refused('token');
    expect(lines.map((l) => [l.reason, l.count])).toEqual([['token', 1], ['address', 1], ['address', 2], ['token', 2]]);
    expect(log.totals()).toEqual({ token: 3, address: 3 });
  });

  it('refuses a non-positive interval', () => {
    expect(() => refusalLog(0)).toThrow(TypeError);
  });
});
