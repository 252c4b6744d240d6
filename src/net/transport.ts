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
  /** The peer's invitation is unknown, expired, already used or does not match its key. */
  invitationRefused: 4015,
  /** The peer declares other merge policies: the two would show different winners. */
  policyMismatch: 4016,
} as const;

/** Callbacks a connection's owner installs; frames received before that are buffered. */
export interface ConnectionHandlers {
  /** One complete frame from the peer. Must not throw. Report it with processed() once handled. */
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
  /**
   * The raw 32-byte Ed25519 public key in the peer's TLS certificate; undefined without
   * TLS, when the peer sent no certificate, or when its key is not Ed25519. It proves
   * only that the peer holds the key: whether the key is trusted is the owner's call.
   */
  readonly peerKey: Uint8Array | undefined;
  /**
   * RFC 9266 `tls-exporter` channel binding (32 bytes), identical on both ends of one
   * TLS connection and different on any other; undefined without TLS. Signing it in the
   * handshake binds the proof of identity to this very connection (no relay).
   */
  readonly channelBinding: Uint8Array | undefined;
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
  /**
   * The owner finished processing inbound frames of `bytes` bytes in total. Inbound
   * flow control: while too many received bytes are unprocessed (maxInboundBytesPerConnection,
   * maxInboundBytesTotal) the transport stops reading, so the sender is pushed back by
   * TCP instead of being queued in memory. An owner must report every frame it received.
   */
  processed(bytes: number): void;
  /** The owner authenticated the peer: the connection stops counting against maxUnauthenticatedConnections. */
  authenticated(): void;
  /** Closes with a code and a short reason; idempotent. */
  close(code: number, reason: string): void;
}

/** What acceptPeer learns about an inbound peer before it gets a socket. */
export interface PeerInfo {
  /** The Ed25519 key of the peer's TLS certificate (see Connection.peerKey). */
  peerKey?: Uint8Array | undefined;
  /** The peer's IP address (memory transport: `mem://name`). */
  remoteAddress: string;
}

/** acceptPeer's answer; a refusal becomes the HTTP status of the upgrade response. */
export type PeerVerdict = { ok: true } | { ok: false; status: 401 | 403 | 429 | 503; reason: string };

/** TLS material (PEM). With it, listen() serves wss:// and dial() presents the certificate. */
export interface TlsOptions {
  /** This node's private key. */
  key: string;
  /** This node's certificate (by default self-signed for its Ed25519 key: createNodeCertificate). */
  cert: string;
  /**
   * Operator PKI: when set, peer certificate chains (and the server's hostname) are
   * verified against it in both directions. When absent, any certificate is accepted at
   * the TLS layer and identity is the owner's job (peerKey, acceptPeer, acceptServer).
   */
  ca?: string | undefined;
}

/** Options every transport understands. Limits left out take their DEFAULT_LIMITS value. */
export interface TransportOptions {
  /** Largest frame accepted; a larger one closes the connection with CloseCode.frameTooLarge. */
  maxFrameBytes: number;
  /** Send-buffer level above which send() returns false. */
  sendHighWaterBytes: number;
  /** Heartbeat interval in ms (transports over real networks only). */
  heartbeatMs: number;
  /**
   * Shared secret peers must present; when set, others are refused before a socket exists.
   * A dialer sends it only over wss:// to a server acceptServer accepted, or over ws:// to loopback.
   */
  peerToken?: string | undefined;
  /** TLS key and certificate; see TlsOptions. */
  tls?: TlsOptions | undefined;
  /** Decides, before a WebSocket exists, whether an inbound peer may connect. Must not throw. */
  acceptPeer?: ((info: PeerInfo) => PeerVerdict) | undefined;
  /** Decides, before anything is sent, whether a server we dialed may be talked to (its certificate key). */
  acceptServer?: ((peerKey: Uint8Array | undefined) => boolean) | undefined;
  /**
   * Whether a TLS server we dialed may receive the peer token (its certificate key is one
   * we trust, not merely one we do not refuse). Default: acceptServer's verdict.
   */
  trustServer?: ((peerKey: Uint8Array | undefined) => boolean) | undefined;
  /** Open connections, inbound and outbound. */
  maxConnections?: number | undefined;
  /** Inbound connections from one remote address. */
  maxConnectionsPerAddress?: number | undefined;
  /** Inbound connections not yet marked authenticated(). */
  maxUnauthenticatedConnections?: number | undefined;
  /** Unprocessed inbound bytes of one connection above which it is not read. */
  maxInboundBytesPerConnection?: number | undefined;
  /** Unprocessed inbound bytes of all connections above which none is read. */
  maxInboundBytesTotal?: number | undefined;
  /** At most one log line per refusal reason per this many ms. */
  refusedLogIntervalMs?: number | undefined;
  /** Lets dial() reach link-local and cloud metadata addresses (refused by default; real networks only). */
  allowLinkLocal?: boolean | undefined;
}

/**
 * Why an inbound attempt was refused (stats and log lines): the transport is closing
 * (503); a bad or missing token (401); acceptPeer said no (its status); the TLS handshake
 * failed, e.g. below TLS 1.3 (a certificate the operator CA rejects closes the socket
 * uncounted); maxConnections (503); maxConnectionsPerAddress (429);
 * maxUnauthenticatedConnections (503); evicted as the oldest of maxPendingUpgrades
 * half-open sockets; no upgrade within upgradeTimeoutMs. tls and the last two are ws only.
 */
export type RefusalReason =
  | 'closing' | 'token' | 'peer' | 'tls' | 'connections' | 'address' | 'unauthenticated'
  | 'pending-upgrades' | 'upgrade-timeout';

/** A snapshot of a transport's counters. */
export interface TransportStats {
  /** Open connections, inbound and outbound. */
  connections: number;
  /** Inbound connections not yet marked authenticated(). */
  unauthenticated: number;
  /** Received bytes not yet reported processed(), all connections. */
  unprocessedBytes: number;
  /** Connections whose reading is paused by inbound flow control. */
  pausedConnections: number;
  /** TCP sockets that have not completed an upgrade (always 0 in memory). */
  pendingUpgrades: number;
  /** Refused inbound attempts since the transport was created, by reason. */
  refused: Partial<Record<RefusalReason, number>>;
}

/** The transport port. */
export interface Transport {
  /** Starts accepting connections; resolves with the URL peers should dial. */
  listen(address: { host: string; port: number }): Promise<{ url: string }>;
  /** Registers the handler for accepted connections (set before listen). */
  onConnection(handler: (connection: Connection) => void): void;
  /**
   * Opens a connection to `url`; rejects with ERR_UNAUTHORIZED (refused either way),
   * ERR_BUSY (capacity, ours or the peer's), ERR_VALIDATION (a refused address or URL),
   * ERR_TIMEOUT, ERR_CLOSED or a network error.
   */
  dial(url: string, options?: { signal?: AbortSignal }): Promise<Connection>;
  /** Current counters. */
  stats(): TransportStats;
  /** Closes the listener and every connection; idempotent. */
  close(): Promise<void>;
}

/** Whether a dialed server (its certificate key) may receive the peer token: trustServer, else acceptServer's verdict. */
export function trustsServer(options: Pick<TransportOptions, 'acceptServer' | 'trustServer'>, peerKey: Uint8Array | undefined): boolean {
  return options.trustServer ? options.trustServer(peerKey) : options.acceptServer !== undefined;
}
