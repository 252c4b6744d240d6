/**
 * The transport port: it moves opaque frames between nodes and knows nothing of the
 * protocol, the store or CRDTs. Implementations: WebSocket (production) and an
 * in-memory network (seeded simulations). Both pass test/net/transport-conformance.ts.
 */

/** WebSocket close codes used by crmsync (1000-1015 are the RFC's, 4000+ ours). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  policyViolation: 1008,
  frameTooLarge: 1009,
  internalError: 1011,
  /** Another connection to the same peer is already active; this one is redundant. */
  duplicate: 4000,
  /** The peer's history for an origin forked from ours (a copied data directory). */
  originForked: 4001,
  /** The peer speaks an incompatible protocol version. */
  versionMismatch: 4002,
  /** The remote node id is our own (we dialed ourselves). */
  selfConnection: 4003,
  /** The peer did not answer heartbeats. */
  heartbeatTimeout: 4004,
  /** The handshake did not complete in time. */
  handshakeTimeout: 4005,
  /** The peer's key or node id is not on the trust list. */
  unknownPeer: 4010,
  /** The peer's key was revoked (also sent to live sessions when a revocation arrives). */
  revoked: 4011,
  /** The peer belongs to another cluster. */
  wrongCluster: 4012,
  /** The peer's proof of its key (or an entry signature) does not verify: forged or replayed. */
  badSignature: 4013,
  /** The peer sent entries of an origin that may not write (unknown, revoked or read-only). */
  unauthorized: 4014,
} as const;

/** Callbacks a connection's owner installs; frames received before that are buffered. */
export interface ConnectionHandlers {
  /** One complete frame from the peer. Must not throw. */
  onFrame(frame: Uint8Array): void;
  /** The connection closed (by either side, or the transport detected it dead). Called once. */
  onClose(code: number, reason: string): void;
}

/** One bidirectional, ordered, reliable frame channel to one peer (while it is open). */
export interface Connection {
  /** Unique per connection within a process; for logs. */
  readonly id: string;
  /** Whether we accepted it or dialed it. */
  readonly direction: 'inbound' | 'outbound';
  /** Remote address (for logs and status only; never used for identity). */
  readonly remoteAddress: string;
  /** True until close() is called or the peer goes away. */
  readonly isOpen: boolean;
  /** Bytes queued for sending but not yet written to the network. */
  readonly bufferedAmount: number;
  /** RFC 9266 tls-exporter channel binding (32 bytes), identical on both ends; undefined on plain WebSocket. */
  readonly channelBinding?: Uint8Array | undefined;
  /** The owner proved the peer's identity: the connection no longer counts as unauthenticated. */
  authenticated?(): void;
  /** Installs the handlers and delivers any frames that arrived before. Once only. */
  setHandlers(handlers: ConnectionHandlers): void;
  /**
   * Queues one frame. Returns false when the send buffer is above the high-water mark:
   * the caller must then `await drained()` before sending more. Sending on a closed
   * connection is a no-op that returns false (the owner learns of the close via onClose).
   */
  send(frame: Uint8Array): boolean;
  /** Resolves once the send buffer is below the high-water mark, or the connection closed. */
  drained(): Promise<void>;
  /** Closes with a code and a short reason; idempotent. */
  close(code: number, reason: string): void;
}

/** Options every transport understands. */
export interface TransportOptions {
  /** Largest frame accepted; a larger one closes the connection with CloseCode.frameTooLarge. */
  maxFrameBytes: number;
  /** Send-buffer level above which send() returns false. */
  sendHighWaterBytes: number;
  /** Heartbeat interval in ms (transports over real networks only). */
  heartbeatMs: number;
  /** Shared secret peers must present; when set, others are refused before a socket exists. */
  peerToken?: string | undefined;
}

/** The transport port. */
export interface Transport {
  /** Starts accepting connections; resolves with the URL peers should dial. */
  listen(address: { host: string; port: number }): Promise<{ url: string }>;
  /** Registers the handler for accepted connections (set before listen). */
  onConnection(handler: (connection: Connection) => void): void;
  /** Opens a connection to `url`; rejects with ERR_UNAUTHORIZED, ERR_TIMEOUT or a network error. */
  dial(url: string, options?: { signal?: AbortSignal }): Promise<Connection>;
  /** Closes the listener and every connection; idempotent. */
  close(): Promise<void>;
}
