/**
 * A hybrid logical clock in milliseconds: the time stamped on every change this node
 * writes. While the process runs it never runs backwards and never falls behind a
 * change time it has seen (within `maxSkewMs`), so an edit made after seeing another one
 * carries a time no earlier even when this machine's wall clock is behind (the `latest`
 * merge policy compares these times). It is not persisted: after a restart it starts from the
 * wall clock and the first changes it sees.
 *
 * A peer's clock far ahead of ours must not drag our clock (and so every later edit)
 * into the future: times beyond `maxSkewMs` ahead of our wall clock are not observed.
 * Such a change still applies; it wins `latest` only until someone edits the field again.
 */
export class HybridClock {
  #last = 0;

  constructor(private readonly wall: () => number, private readonly maxSkewMs: number) {}

  /**
   * A time for a new change: not earlier than any time issued or observed before. Not
   * strictly later: a counter that added a millisecond per change ran ahead of the wall
   * clock by a minute over a 100,000-edit bulk load, and then beat edits made elsewhere
   * in that minute (and held log truncation back, which waits for entries to be old).
   * Equal times need no order: a change made after seeing another supersedes it in the
   * document whatever their times; only concurrent values are compared, ties broken by
   * op id (merge-policy.ts).
   */
  now(): number {
    this.#last = Math.max(Math.floor(this.wall()), this.#last);
    return this.#last;
  }

  /** Takes in the time of a change received from a peer. */
  observe(time: number): void {
    if (!Number.isFinite(time) || time <= this.#last) return;
    if (time > this.wall() + this.maxSkewMs) return;
    this.#last = Math.floor(time);
  }
}
