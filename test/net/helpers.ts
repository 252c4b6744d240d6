/**
 * Event-driven test helpers for transports: every wait resolves from a handler, never
 * from a timer.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createNodeCertificate } from '../../src/net/certificate.js';
import type { Connection, TlsOptions, Transport } from '../../src/net/transport.js';

/** A close as seen by onClose. */
export interface CloseEvent {
  code: number;
  reason: string;
}

/** What a recorded connection received. */
export interface Recording {
  readonly frames: Uint8Array[];
  readonly closes: CloseEvent[];
  /** Resolves once at least `count` frames arrived (rejects if the connection closes first). */
  untilFrames(count: number): Promise<void>;
  /** Resolves with the first close. */
  readonly closed: Promise<CloseEvent>;
  /** Reports every frame received so far processed, and each later one as it arrives. */
  processAll(): void;
}

/**
 * Installs handlers on `connection` that record everything it receives. Each frame is
 * reported processed() at once unless `process` is false (then processAll() does);
 * `observe` sees each frame as it arrives.
 */
export function record(connection: Connection, options: { process?: boolean; observe?: (frame: Uint8Array) => void } = {}): Recording {
  let process = options.process ?? true;
  let unreported = 0;
  const frames: Uint8Array[] = [];
  const closes: CloseEvent[] = [];
  let waiters: Array<{ count: number; resolve: () => void; reject: (err: Error) => void }> = [];
  let resolveClosed!: (event: CloseEvent) => void;
  const closed = new Promise<CloseEvent>((resolve) => { resolveClosed = resolve; });
  const check = (): void => {
    waiters = waiters.filter((w) => {
      if (frames.length >= w.count) w.resolve();
      else if (closes.length > 0) w.reject(new Error(`closed (${closes[0]?.code}) after ${frames.length} of ${w.count} frames`));
      else return true;
      return false;
    });
  };
  connection.setHandlers({
    onFrame: (frame) => {
      frames.push(frame);
      options.observe?.(frame);
      if (process) connection.processed(frame.byteLength);
      else unreported += frame.byteLength;
      check();
    },
    onClose: (code, reason) => { closes.push({ code, reason }); resolveClosed({ code, reason }); check(); },
  });
  return {
    frames,
    closes,
    closed,
    processAll: () => {
      process = true;
      connection.processed(unreported);
      unreported = 0;
    },
    untilFrames: (count) => new Promise<void>((resolve, reject) => { waiters.push({ count, resolve, reject }); check(); }),
  };
}

/** Collects a transport's inbound connections; next() yields them in order. */
export function acceptor(transport: Transport): { connections: Connection[]; next(): Promise<Connection> } {
  const connections: Connection[] = [];
  const waiting: Array<(c: Connection) => void> = [];
  let taken = 0;
  transport.onConnection((connection) => {
    connections.push(connection);
    waiting.shift()?.(connection);
  });
  return {
    connections,
    next: () => {
      const index = taken++;
      const ready = connections[index];
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A frame of `size` bytes whose first four bytes hold `index` (big-endian). */
export function frameOf(index: number, size = 8): Uint8Array {
  const frame = new Uint8Array(Math.max(size, 4)).fill(index & 0xff);
  new DataView(frame.buffer).setUint32(0, index);
  return frame;
}

/** The index frameOf() wrote into `frame`. */
export function indexOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
}

export { seededRandom } from '../../src/index.js';

/** Resolves with the first emission of `event` on an EventEmitter-like object. */
export function once<T extends unknown[]>(emitter: { once(event: string, listener: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** A node's TLS identity as createNodeCertificate makes it, and the raw public key peers will see. */
export interface NodeIdentity {
  tls: TlsOptions;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** PKCS#8 PEM of the private key. */
  privateKeyPem: string;
}

/** A fresh Ed25519 key and its self-signed certificate. */
export async function nodeIdentity(name: string): Promise<NodeIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const cert = await createNodeCertificate(privateKeyPem, name);
  const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
  return { tls: { key: privateKeyPem, cert }, publicKey: raw, privateKeyPem };
}
