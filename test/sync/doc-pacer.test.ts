/**
 * The pacing of record documents (src/sync/doc-pacer.ts), without sockets: a mark after
 * every DOCS_PER_MARK documents; the sender waits once more than MARKS_AHEAD marks are
 * unanswered; an answer releases it; a peer that lets a mark time out is not waited for
 * again; closing releases every waiting sender.
 */
import { describe, expect, it } from 'vitest';
import { DOCS_PER_MARK, DocPacer, MARKS_AHEAD } from '../../src/sync/doc-pacer.js';

/** Sends `count` documents through the pacer; returns how many went before it had to wait. */
async function sendUntilBlocked(pacer: DocPacer, count: number, now = 0): Promise<{ sent: number; blocked: Promise<void> | undefined }> {
  for (let i = 0; i < count; i++) {
    let done = false;
    const step = pacer.sent(now).then(() => { done = true; });
    await Promise.resolve();
    await Promise.resolve();
    if (!done) return { sent: i + 1, blocked: step };
  }
  return { sent: count, blocked: undefined };
}

describe('DocPacer', () => {
  it('marks every DOCS_PER_MARK documents and waits once more than MARKS_AHEAD are unanswered', async () => {
    const marks: number[] = [];
    const pacer = new DocPacer((n) => marks.push(n), 1000);
    const first = await sendUntilBlocked(pacer, 1000);
    expect(first.sent).toBe(DOCS_PER_MARK * (MARKS_AHEAD + 1));
    expect(marks).toEqual([1, 2, 3]);
    // The oldest mark answered: the sender goes on, until the window is full again.
    pacer.marked(1);
    await first.blocked;
    const second = await sendUntilBlocked(pacer, 1000);
    expect(second.sent).toBe(DOCS_PER_MARK);
    expect(marks).toEqual([1, 2, 3, 4]);
    // An answer to a later mark answers the ones before it too.
    pacer.marked(4);
    await second.blocked;
    expect((await sendUntilBlocked(pacer, 1000)).sent).toBe(DOCS_PER_MARK * (MARKS_AHEAD + 1));
  });

  it('stops waiting for a peer that lets a mark time out (a version without marks)', async () => {
    const marks: number[] = [];
    const pacer = new DocPacer((n) => marks.push(n), 1000);
    const { blocked } = await sendUntilBlocked(pacer, 1000, 0);
    pacer.tick(500);
    let released = false;
    void blocked!.then(() => { released = true; });
    await Promise.resolve();
    expect(released).toBe(false);
    pacer.tick(1001);
    await blocked;
    const sentMarks = marks.length;
    expect((await sendUntilBlocked(pacer, 500)).sent).toBe(500);
    expect(marks.length).toBe(sentMarks); // no more marks for this peer
  });

  it('releases every waiting sender when the session closes', async () => {
    const pacer = new DocPacer(() => undefined, 1000);
    const { blocked } = await sendUntilBlocked(pacer, 1000);
    pacer.close();
    await expect(blocked).resolves.toBeUndefined();
  });
});
