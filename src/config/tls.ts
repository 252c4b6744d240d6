/**
 * TLS of the peer port and of the HTTP API as the configuration asks for it, and the
 * peer URL other machines reach a node at. Certificate files are read here, so a wrong
 * path or a missing half is an error naming the flag, before anything listens.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { CrmsyncError } from '../errors.js';
import type { TlsOptions } from '../index.js';
import { KEYS, parseHostPort, type Config } from './keys.js';

/** PEM key and certificate of a TLS server. */
export interface ServerTls {
  key: string;
  cert: string;
}

/** True for a host that never leaves this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** True for the wildcard addresses (every interface): not an address anyone can dial. */
export function isWildcardHost(host: string): boolean {
  return ['0.0.0.0', '::', '[::]'].includes(host);
}

const invalid = (key: keyof Config, message: string) =>
  new CrmsyncError('ERR_VALIDATION', `${KEYS[key].flag}: ${message}`, { details: [{ field: KEYS[key].flag, message }] });

async function readPem(key: keyof Config, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw invalid(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The certificate and key files named by a pair of keys, or undefined when neither is set. */
async function certificatePair(config: Config, certKey: 'tlsCert' | 'apiTlsCert', keyKey: 'tlsKey' | 'apiTlsKey'): Promise<ServerTls | undefined> {
  const cert = config[certKey];
  const key = config[keyKey];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw invalid(cert === undefined ? certKey : keyKey, `${KEYS[certKey].flag} and ${KEYS[keyKey].flag} go together`);
  return { cert: await readPem(certKey, cert), key: await readPem(keyKey, key) };
}

/**
 * The peer port's TLS for openNode: an operator's certificate, `'self-signed'`, `false`,
 * or undefined for `auto` (the node uses TLS exactly when it listens beyond loopback).
 */
export async function peerTls(config: Config): Promise<TlsOptions | 'self-signed' | false | undefined> {
  const files = await certificatePair(config, 'tlsCert', 'tlsKey');
  if (config.tlsCa !== undefined && !files) throw invalid('tlsCa', `a CA checks peers' certificates from that CA: give ${KEYS.tlsCert.flag} and ${KEYS.tlsKey.flag} too`);
  if (files) {
    if (config.tls === 'off') throw invalid('tls', `"off" contradicts ${KEYS.tlsCert.flag}; leave --tls at auto`);
    return { ...files, ...(config.tlsCa === undefined ? {} : { ca: await readPem('tlsCa', config.tlsCa) }) };
  }
  return config.tls === 'auto' ? undefined : config.tls === 'self-signed' ? 'self-signed' : false;
}

/** What the API serves: HTTPS with `tls` (or `selfSigned`: the node's certificate), or plain HTTP with a warning beyond loopback. */
export interface ApiTlsPlan {
  tls?: ServerTls;
  selfSigned?: boolean;
  warning?: string;
}

/** Decides the API's TLS from the configuration and the address it binds. */
export async function apiTlsPlan(config: Config, host: string): Promise<ApiTlsPlan> {
  const files = await certificatePair(config, 'apiTlsCert', 'apiTlsKey');
  if (files) {
    if (config.apiTls === 'off') throw invalid('apiTls', `"off" contradicts ${KEYS.apiTlsCert.flag}; leave --api-tls at auto`);
    return { tls: files };
  }
  const local = isLoopbackHost(host);
  if (config.apiTls === 'self-signed' || (config.apiTls === 'auto' && !local)) return { selfSigned: true };
  if (!local) {
    return { warning: `WARNING: the HTTP API listens on ${host} without TLS (--api-tls off): its bearer token and customer records cross the network readable by anyone on the path. Use --api-tls auto, or bind it to 127.0.0.1.` };
  }
  return {};
}

/** The scheme peers use for this configuration: wss:// whenever the peer port uses TLS. */
function peerScheme(config: Config, host: string): 'ws' | 'wss' {
  if (config.tlsCert !== undefined || config.tls === 'self-signed') return 'wss';
  if (config.tls === 'off') return 'ws';
  return isLoopbackHost(host) ? 'ws' : 'wss';
}

/**
 * The URL other machines dial to reach this node: `advertise`, else the `listen`
 * address when it names one host and a fixed port; otherwise why it cannot tell.
 */
export function advertisedUrl(config: Config): { url: string } | { why: string } {
  if (config.advertise !== undefined) return { url: config.advertise };
  if (config.listen === 'off') return { why: 'the node does not listen for peers (listen is off)' };
  const address = parseHostPort(config.listen)!;
  if (isWildcardHost(address.host)) return { why: `the node listens on ${config.listen} (every interface), which names no address others can dial` };
  if (address.port === 0) return { why: `the node listens on ${config.listen}: port 0 is chosen when it starts` };
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return { url: `${peerScheme(config, address.host)}://${host}:${address.port}` };
}
