/**
 * Every configuration key: its environment variable, its flag, its default and its
 * validation. docs/configuration.md documents the same table (a test keeps them in step).
 */
import { z } from 'zod';
import { mergePoliciesSchema } from '../crdt/merge-policy.js';
import { NODE_ID_PATTERN, NODE_ID_RULE } from '../types.js';

/** Log levels accepted by `logLevel` (pino's, plus `silent`). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A parsed `host:port` address. */
export interface HostPort {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses `host:port`, `[v6]:port` or `http://host:port/`; undefined when malformed. */
export function parseHostPort(value: string): HostPort | undefined {
  const bare = value.trim().replace(/^https?:\/\//, '').replace(/\/$/, '');
  const match = HOST_PORT.exec(bare);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

/** Formats an address back to `host:port` (brackets around IPv6 hosts). */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const hostPort = z.string().refine((v) => parseHostPort(v) !== undefined, {
  message: 'must be host:port with a port from 0 to 65535, e.g. 127.0.0.1:7400 (port 0 picks a free port)',
});

const wsUrl = z.string().trim().refine((v) => {
  try {
    const url = new URL(v);
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.host !== '';
  } catch {
    return false;
  }
}, { message: 'must be a WebSocket URL such as wss://10.0.0.2:7400' });

/** TLS settings of the peer port and the API: `auto` is TLS beyond loopback only. */
export const TLS_MODES = ['auto', 'self-signed', 'off'] as const;
/** One of TLS_MODES. */
export type TlsMode = (typeof TLS_MODES)[number];

/** `ed25519:` and 43 base64url characters (the format `crmsync init` prints). */
const FINGERPRINT = /^ed25519:[A-Za-z0-9_-]{43}$/;

/** The validated, effective configuration. */
export interface Config {
  dataDir: string;
  nodeId: string | undefined;
  cluster: string | undefined;
  listen: string;
  advertise: string | undefined;
  api: string;
  peers: string[];
  tls: TlsMode;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsCa: string | undefined;
  insecure: boolean;
  apiTls: TlsMode;
  apiTlsCert: string | undefined;
  apiTlsKey: string | undefined;
  peerToken: string | undefined;
  apiToken: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  mergePolicies: Record<string, string>;
  /** Background anti-entropy interval in ms (0: off). */
  antiEntropyInterval: number;
  /** How long log entries are kept at least (ms): limits.logRetentionMs. */
  logRetention: number;
  /** How long a deleted record is kept at least (ms): limits.tombstoneRetentionMs. */
  tombstoneRetention: number;
  /** How often the lifecycle runs (ms): limits.lifecycleIntervalMs. */
  lifecycleInterval: number;
}

/** One configuration key. */
export interface KeyDef {
  env: string;
  flag: string;
  /** Default value (undefined: none). */
  default: unknown;
  /** The default as the docs show it. */
  defaultText: string;
  /** Validates one value from any source (env and flag strings are converted first). */
  schema: z.ZodType;
  /** Converts an env or flag string into the value the schema checks. */
  fromString?: (value: string) => unknown;
  /** Masked in `config show` output. */
  secret?: boolean;
  /** A file path: relative to the config file when given there, else to the current directory. */
  path?: boolean;
  description: string;
}

const splitList = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s !== '');
/** `true`/`1`/`yes` and `false`/`0`/`no` from the environment; anything else is left for the schema to refuse. */
const parseBoolean = (value: string): unknown => {
  const v = value.trim().toLowerCase();
  return ['true', '1', 'yes'].includes(v) ? true : ['false', '0', 'no'].includes(v) ? false : value;
};
/** `stage=monotonic,custom.budget=max` (or a JSON object) into an object; malformed pairs are left for the schema to refuse. */
const parsePolicies = (value: string): unknown => {
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  const pairs = splitList(value).map((pair) => pair.split('='));
  return pairs.every((p) => p.length === 2) ? Object.fromEntries(pairs.map(([k, v]) => [k!.trim(), v!.trim()])) : value;
};
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** `10m`, `30s`, `1h`, `500ms`, `30d` as ms; `0` and `off` as 0; anything else is left for the schema to refuse. */
const parseDuration = (value: string): unknown => {
  const v = value.trim().toLowerCase();
  if (v === '0' || v === 'off') return 0;
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(v);
  return match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : value;
};
const filePath = z.string().trim().min(1, 'must be a file path').optional();
/** A retention period: a duration of at least a second, at most ten years. */
const retention = (what: string) => z.preprocess((v) => (typeof v === 'string' ? parseDuration(v) : v),
  z.number({ error: `must be a duration such as 30d, 12h or 90s (how long ${what} at least)` }).int().min(1000, 'must be at least 1s').max(3650 * 86_400_000, 'must be at most 3650d'));
const tlsMode = z.enum(TLS_MODES, { error: `must be one of ${TLS_MODES.join(', ')}` });

/** The configuration keys, in documentation order. */
export const KEYS: { readonly [K in keyof Config]: KeyDef } = {
  dataDir: {
    env: 'CRMSYNC_DATA_DIR', flag: '--data-dir', default: './crmsync-data', defaultText: '`./crmsync-data`',
    schema: z.string().trim().min(1, 'must not be empty'),
    description: 'Directory holding the database (`db/`), `crmsync.json`, `api-token`, `crmsync.pid` and `api-url`. Relative paths in a config file are relative to that file.',
  },
  nodeId: {
    env: 'CRMSYNC_NODE_ID', flag: '--node-id', default: undefined, defaultText: 'generated by `init`',
    schema: z.string().regex(NODE_ID_PATTERN, `must be ${NODE_ID_RULE}`).optional(),
    description: 'Stable identity of this node; must match the id stored in an existing database.',
  },
  cluster: {
    env: 'CRMSYNC_CLUSTER', flag: '--cluster', default: undefined, defaultText: 'this node founds a new cluster (`init` writes its own key)',
    schema: z.string().regex(FINGERPRINT, 'must be a key fingerprint: ed25519: followed by 43 base64url characters (crmsync init prints it)').optional(),
    description: "The cluster: its founder's key fingerprint. `init` writes it; `init --cluster FP` joins that cluster by an administrator's `crmsync trust add`. Must match an existing database.",
  },
  listen: {
    env: 'CRMSYNC_LISTEN', flag: '--listen', default: '127.0.0.1:7400', defaultText: '`127.0.0.1:7400`',
    schema: z.union([z.literal('off'), hostPort], { error: "must be host:port (e.g. 0.0.0.0:7400) or 'off'" }),
    description: "Address peers connect to (WebSocket), or `off` to only dial out. Port 0 picks a free port.",
  },
  advertise: {
    env: 'CRMSYNC_ADVERTISE', flag: '--advertise', default: undefined, defaultText: 'the `listen` address, unless it is `0.0.0.0` or `::`',
    schema: wsUrl.optional(),
    description: 'The peer URL other machines reach this node at (e.g. `wss://berlin.example:7400`); invitations carry it.',
  },
  api: {
    env: 'CRMSYNC_API', flag: '--api', default: '127.0.0.1:7401', defaultText: '`127.0.0.1:7401`',
    schema: hostPort,
    description: 'Address of the HTTP API `crmsync start` serves. Port 0 picks a free port; the actual URL is written to `<dataDir>/api-url`.',
  },
  peers: {
    env: 'CRMSYNC_PEERS', flag: '--peers', default: [], defaultText: 'none',
    schema: z.array(wsUrl), fromString: splitList,
    description: 'Peers to dial and keep dialing: a JSON array in the file, comma-separated ws:// or wss:// URLs in the environment and flag.',
  },
  tls: {
    env: 'CRMSYNC_TLS', flag: '--tls', default: 'auto', defaultText: '`auto`',
    schema: tlsMode,
    description: '`auto`: TLS (wss://) when listening beyond loopback, with a self-signed certificate bound to the node key; `self-signed`: always; `off`: never (beyond loopback only with `insecure`).',
  },
  tlsCert: {
    env: 'CRMSYNC_TLS_CERT', flag: '--tls-cert', default: undefined, defaultText: 'none', schema: filePath, path: true,
    description: "PEM certificate (chain) of the peer port, from the operator's PKI; needs `tlsKey`.",
  },
  tlsKey: {
    env: 'CRMSYNC_TLS_KEY', flag: '--tls-key', default: undefined, defaultText: 'none', schema: filePath, path: true,
    description: 'PEM private key of `tlsCert`.',
  },
  tlsCa: {
    env: 'CRMSYNC_TLS_CA', flag: '--tls-ca', default: undefined, defaultText: 'none', schema: filePath, path: true,
    description: "PEM CA certificate(s): peers' certificates must chain to it (both directions). Without it, identity rests on the node keys alone.",
  },
  insecure: {
    env: 'CRMSYNC_INSECURE', flag: '--insecure', default: false, defaultText: '`false`',
    schema: z.boolean({ error: 'must be true or false' }), fromString: parseBoolean,
    description: 'Allows listening beyond loopback without TLS (test rigs only): `start` warns, `status` shows it.',
  },
  apiTls: {
    env: 'CRMSYNC_API_TLS', flag: '--api-tls', default: 'auto', defaultText: '`auto`',
    schema: tlsMode,
    description: "HTTPS for the API. `auto`: when bound beyond loopback (with `apiTlsCert`/`apiTlsKey`, else the node's self-signed certificate, written to `<dataDir>/api-cert.pem`); `off` beyond loopback prints a warning.",
  },
  apiTlsCert: {
    env: 'CRMSYNC_API_TLS_CERT', flag: '--api-tls-cert', default: undefined, defaultText: 'none', schema: filePath, path: true,
    description: 'PEM certificate (chain) of the API; needs `apiTlsKey`.',
  },
  apiTlsKey: {
    env: 'CRMSYNC_API_TLS_KEY', flag: '--api-tls-key', default: undefined, defaultText: 'none', schema: filePath, path: true,
    description: 'PEM private key of `apiTlsCert`.',
  },
  peerToken: {
    env: 'CRMSYNC_PEER_TOKEN', flag: '--peer-token', default: undefined, defaultText: 'none (peers prove their keys; no extra secret)',
    schema: z.string().min(8, 'must be at least 8 characters').optional(), secret: true,
    description: 'Optional shared secret every peer must present before its handshake (besides its key); all nodes of a cluster need the same one.',
  },
  apiToken: {
    env: 'CRMSYNC_API_TOKEN', flag: '--token', default: undefined, defaultText: 'contents of `<dataDir>/api-token`',
    schema: z.string().min(16, 'must be at least 16 characters').optional(), secret: true,
    description: 'Bearer token of the HTTP API (`start` requires it; other commands send it).',
  },
  logLevel: {
    env: 'CRMSYNC_LOG_LEVEL', flag: '--log-level', default: 'info', defaultText: '`info`',
    schema: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
    description: 'Level of the logs `start` writes to stdout.',
  },
  mergePolicies: {
    env: 'CRMSYNC_MERGE_POLICIES', flag: '--merge-policies', default: {}, defaultText: 'territory and owner: owner-region; stage: monotonic; others: latest',
    schema: mergePoliciesSchema, fromString: parsePolicies,
    description: 'Which concurrent value a conflicted field shows: an object of field path to rule in the file; `field=rule,...` in the environment and flag. Every node of a cluster must declare the same.',
  },
  antiEntropyInterval: {
    env: 'CRMSYNC_ANTI_ENTROPY_INTERVAL', flag: '--anti-entropy-interval', default: 600_000, defaultText: '`10m`',
    // A file may give ms as a number or a duration string; flags and the environment give strings.
    schema: z.preprocess((v) => (typeof v === 'string' ? parseDuration(v) : v),
      z.number({ error: "must be a duration such as 10m, 30s, 1h or 500ms, or 0 / off" }).int().min(0).max(2_147_483_647, 'must be at most 24 days')),
    fromString: parseDuration,
    description: 'How often `start` compares its records with a connected peer (anti-entropy, peers in turn) and repairs what differs; `0` or `off` disables it.',
  },
  logRetention: {
    env: 'CRMSYNC_LOG_RETENTION', flag: '--log-retention', default: 30 * 86_400_000, defaultText: '`30d`',
    schema: retention('a log entry is kept'), fromString: parseDuration,
    description: 'How long a change-log entry is kept at least; then it is truncated once every member heard from within this period holds it (README, "Log truncation"). A member away longer, or a new one, is brought back by a region with record documents.',
  },
  tombstoneRetention: {
    env: 'CRMSYNC_TOMBSTONE_RETENTION', flag: '--tombstone-retention', default: 30 * 86_400_000, defaultText: '`30d`',
    schema: retention('a deleted record is kept'), fromString: parseDuration,
    description: 'How long a deleted record stays restorable at least; then it is collected once every member holds the delete (README, "Tombstone retention").',
  },
  lifecycleInterval: {
    env: 'CRMSYNC_LIFECYCLE_INTERVAL', flag: '--lifecycle-interval', default: 60_000, defaultText: '`1m`',
    schema: z.preprocess((v) => (typeof v === 'string' ? parseDuration(v) : v),
      z.number({ error: 'must be a duration such as 1m, 30s or 500ms' }).int().min(100, 'must be at least 100ms').max(2_147_483_647, 'must be at most 24 days')),
    fromString: parseDuration,
    description: 'How often a node signs and passes on holds reports, collects tombstones and truncates its log.',
  },
};

/** Names of the configuration keys. */
export const KEY_NAMES = Object.keys(KEYS) as (keyof Config)[];
