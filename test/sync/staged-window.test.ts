/**
 * The staged window (src/sync/staged-window.ts): a session's next frame waits while
 * `max` frames are queued for commit and not yet durable, and goes on as soon as one
 * of them is.
 */
import { describe, expect, it } from 'vitest';
import { StagedWindow } from '../../src/sync/staged-window.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Whether `p` settled within a few turns of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe('the staged window', () => {
  it('has room while fewer than max frames wait to be durable, and waits for one of them otherwise', async () => {
    const window = new StagedWindow(2);
    const [a, b, c] = [deferred(), deferred(), deferred()];
    window.add(a.promise);
    expect(await settled(window.room())).toBe(true); // one being written: the next may go
    window.add(b.promise);
    const room = window.room();
    expect(await settled(room)).toBe(false); // two: the third waits
    expect(window.size).toBe(2);
    b.resolve(); // either one durable makes room
    expect(await settled(room)).toBe(true);
    window.add(c.promise);
    const next = window.room();
    expect(await settled(next)).toBe(false);
    a.resolve();
    expect(await settled(next)).toBe(true);
    expect(window.size).toBe(1);
  });
});
