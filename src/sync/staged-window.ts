/**
 * The frames of one session that are queued for commit but not yet durable (session.ts
 * invariant 2). A session checks and applies its next frame while the one before is
 * being written. This window bounds how many such frames a session holds, so a peer
 * that ignores the send window cannot pile frames up in memory behind a slow disk.
 */
export class StagedWindow {
  readonly #undurable: Promise<unknown>[] = [];
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Tracks a staged frame until `durable` settles (it must never reject). */
  add(durable: Promise<unknown>): void {
    this.#undurable.push(durable);
    void durable.then(() => this.#undurable.splice(this.#undurable.indexOf(durable), 1));
  }

  /** Resolves once fewer than `max` frames wait to be durable: room for the next one. */
  async room(): Promise<void> {
    while (this.#undurable.length >= this.#max) await Promise.race(this.#undurable);
  }

  /** Frames staged and not yet durable. */
  get size(): number {
    return this.#undurable.length;
  }
}
