/**
 * Paces the record documents a session sends (a bootstrap, a grown subscription, a
 * `want`'s answer): the receiver adopts them one at a time, far slower than a socket
 * delivers them, and closes a peer that has more than `maxInboxFrames` frames waiting.
 * So after every `docsPerMark` documents the sender sends `mark` n, which the receiver
 * answers (`marked` n) once it has handled every frame before it; at most `marksAhead`
 * marks are unanswered. A peer that answers no mark within `timeoutMs` (a version
 * without marks, which ignores them) is no longer waited for.
 */

/** Documents between two marks. */
export const DOCS_PER_MARK = 16;
/** Marks sent and not answered yet: 2 × 16 documents at most wait at the receiver, beside other frames. */
export const MARKS_AHEAD = 2;

interface Pending {
  n: number;
  sentAt: number;
  resolve: () => void;
  answered: Promise<void>;
}

/** See the file comment. One per session. */
export class DocPacer {
  readonly #sendMark: (n: number) => void;
  readonly #timeoutMs: number;
  readonly #pending: Pending[] = [];
  #next = 0;
  #sinceMark = 0;
  /** The peer let a mark time out: it does not know marks. */
  #unpaced = false;

  constructor(sendMark: (n: number) => void, timeoutMs: number) {
    this.#sendMark = sendMark;
    this.#timeoutMs = timeoutMs;
  }

  /** Call after sending a document; resolves when the next one may go. */
  async sent(now: number): Promise<void> {
    if (this.#unpaced || ++this.#sinceMark < DOCS_PER_MARK) return;
    this.#sinceMark = 0;
    const n = ++this.#next;
    let resolve!: () => void;
    const answered = new Promise<void>((r) => (resolve = r));
    this.#pending.push({ n, sentAt: now, resolve, answered });
    this.#sendMark(n);
    const oldest = this.#pending.length > MARKS_AHEAD ? this.#pending[0] : undefined;
    if (oldest) await oldest.answered;
  }

  /** The peer handled every frame up to mark `n`. */
  marked(n: number): void {
    while (this.#pending.length > 0 && this.#pending[0]!.n <= n) this.#pending.shift()!.resolve();
  }

  /** Stops waiting for marks older than the timeout (and for this peer's marks from now on). */
  tick(now: number): void {
    if (this.#pending.length === 0 || now - this.#pending[0]!.sentAt <= this.#timeoutMs) return;
    this.#unpaced = true;
    this.close();
  }

  /** Releases every waiting sender (the session closed). */
  close(): void {
    for (const pending of this.#pending.splice(0)) pending.resolve();
  }
}
