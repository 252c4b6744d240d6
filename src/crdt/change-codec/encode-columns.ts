/**
 * Encoders for the column encodings, writing the canonical form that Automerge 3 writes
 * (and that `columns.ts` requires): equal neighbours become a repeat run, lone values
 * gather into literal runs, nulls into null runs.
 */
import type { ByteWriter } from './leb.js';

const EMPTY = 0;
const LONE = 1;
const RUN = 2;
const LITERAL = 3;
const NULLS = 4;

/** An RLE encoder of unsigned ints (`str: false`) or strings (`str: true`), with nulls. */
export class RleEncoder<T extends number | string> {
  private state = EMPTY;
  private value: T | null = null; // LONE/RUN: the value; LITERAL: the latest, not yet in `literal`
  private count = 0; // RUN/NULLS: the run length
  private literal: T[] = [];
  /** True once a non-null value was appended (an all-null column is left out of a change). */
  nonNull = false;

  constructor(
    private readonly out: ByteWriter,
    private readonly signed: boolean,
  ) {}

  /** Appends one value; null for a null entry. */
  append(value: T | null): void {
    if (value === null) {
      if (this.state === NULLS) {
        this.count++;
        return;
      }
      this.flush();
      this.state = NULLS;
      this.count = 1;
      return;
    }
    this.nonNull = true;
    switch (this.state) {
      case EMPTY:
        this.state = LONE;
        this.value = value;
        return;
      case LONE:
        if (this.value === value) {
          this.state = RUN;
          this.count = 2;
        } else {
          this.state = LITERAL;
          this.literal.push(this.value as T);
          this.value = value;
        }
        return;
      case RUN:
        if (this.value === value) {
          this.count++;
          return;
        }
        this.flush();
        this.state = LONE;
        this.value = value;
        return;
      case LITERAL:
        if (this.value === value) {
          // The pending value starts a repeat run; the literal closes without it.
          this.writeLiteral(0);
          this.state = RUN;
          this.count = 2;
        } else {
          this.literal.push(this.value as T);
          this.value = value;
        }
        return;
      default: // NULLS
        this.flush();
        this.state = LONE;
        this.value = value;
    }
  }

  /** Writes what is pending; call once after the last value. */
  flush(): void {
    const out = this.out;
    switch (this.state) {
      case LONE:
        out.sleb(-1);
        this.write(this.value as T);
        break;
      case RUN:
        out.sleb(this.count);
        this.write(this.value as T);
        break;
      case LITERAL:
        this.writeLiteral(1);
        break;
      case NULLS:
        out.sleb(0);
        out.uleb(this.count);
        break;
    }
    this.state = EMPTY;
    this.value = null;
  }

  /** Writes the gathered literal, plus the pending value when `withPending` is 1. */
  private writeLiteral(withPending: 0 | 1): void {
    const literal = this.literal;
    this.out.sleb(-(literal.length + withPending));
    for (let i = 0; i < literal.length; i++) this.write(literal[i]!);
    if (withPending) this.write(this.value as T);
    literal.length = 0;
  }

  private write(v: T): void {
    if (typeof v === 'string') this.out.str(v);
    else if (this.signed) this.out.sleb(v);
    else this.out.uleb(v);
  }
}

/** A delta encoder over counters: writes the RLE of differences; nulls keep the last value. */
export class DeltaEncoder {
  private last = 0;
  private readonly rle: RleEncoder<number>;
  constructor(out: ByteWriter) {
    this.rle = new RleEncoder<number>(out, true);
  }

  /** True once a non-null value was appended. */
  get nonNull(): boolean {
    return this.rle.nonNull;
  }

  /** Appends one counter, or null. */
  append(value: number | null): void {
    if (value === null) return this.rle.append(null);
    this.rle.append(value - this.last);
    this.last = value;
  }

  /** Writes what is pending. */
  flush(): void {
    this.rle.flush();
  }
}

/** A boolean encoder: alternating run lengths, starting with false. */
export class BooleanEncoder {
  private current = false;
  private count = 0;
  /** True once a true value was appended. */
  anyTrue = false;
  constructor(private readonly out: ByteWriter) {}

  /** Appends one value. */
  append(value: boolean): void {
    if (value === this.current) {
      this.count++;
      return;
    }
    this.out.uleb(this.count);
    this.current = value;
    this.count = 1;
    this.anyTrue = true;
  }

  /** Writes the last run. */
  flush(): void {
    if (this.count > 0) this.out.uleb(this.count);
  }
}
