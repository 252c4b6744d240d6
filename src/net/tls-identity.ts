/**
 * Identity material of a TLS connection, read the same way on both ends: the peer's
 * Ed25519 certificate key and the RFC 9266 channel binding.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** RFC 9266: the exporter label of the `tls-exporter` channel binding type. */
const CHANNEL_BINDING_LABEL = 'EXPORTER-Channel-Binding';
/** RFC 9266: the exporter output is 32 bytes. */
const CHANNEL_BINDING_BYTES = 32;

/** What a TLS connection tells about the peer. */
export interface TlsIdentity {
  peerKey: Uint8Array | undefined;
  channelBinding: Uint8Array | undefined;
}

/** The raw 32-byte Ed25519 key of a certificate, or undefined (no certificate, another key type). */
export function ed25519KeyOf(certificate: X509Certificate | undefined): Uint8Array | undefined {
  const key = certificate?.publicKey;
  if (!key || key.asymmetricKeyType !== 'ed25519') return undefined;
  const x = key.export({ format: 'jwk' }).x;
  return x === undefined ? undefined : new Uint8Array(Buffer.from(x, 'base64url'));
}

/** The raw 32-byte Ed25519 key of the peer's certificate, or undefined (no certificate, another key type). */
export function peerKeyOf(socket: TLSSocket): Uint8Array | undefined {
  return ed25519KeyOf(socket.getPeerX509Certificate());
}

/** The `tls-exporter` channel binding (RFC 9266: empty context), identical on both ends of one connection. */
export function channelBindingOf(socket: TLSSocket): Uint8Array {
  return new Uint8Array(socket.exportKeyingMaterial(CHANNEL_BINDING_BYTES, CHANNEL_BINDING_LABEL, Buffer.alloc(0)));
}

/** Both, for a connection over `socket` (nothing without TLS). */
export function tlsIdentityOf(socket: unknown): TlsIdentity {
  if (!isTlsSocket(socket)) return { peerKey: undefined, channelBinding: undefined };
  return { peerKey: peerKeyOf(socket), channelBinding: channelBindingOf(socket) };
}

function isTlsSocket(socket: unknown): socket is TLSSocket {
  return typeof socket === 'object' && socket !== null && (socket as { encrypted?: unknown }).encrypted === true;
}
