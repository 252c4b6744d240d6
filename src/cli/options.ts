/** Commander option groups shared by the commands, and the mapping to command options. */
import type { Command } from 'commander';
import type { ConfigFlags } from '../config/load.js';

/** --data-dir and --config: which node's directory and configuration. */
export function dirOptions(cmd: Command): Command {
  return cmd
    .option('-d, --data-dir <dir>', 'data directory (env CRMSYNC_DATA_DIR; default ./crmsync-data)')
    .option('-c, --config <file>', 'config file (env CRMSYNC_CONFIG; default <data-dir>/crmsync.json)');
}

/** Options of commands that talk to a running node. */
export function clientOptions(cmd: Command): Command {
  return dirOptions(cmd)
    .option('--api <url>', 'API of the node to talk to (default: the URL in <data-dir>/api-url, written by crmsync start)')
    .option('--api-cert <file>', "certificate an https:// API must present (default for the local node: <data-dir>/api-cert.pem)")
    .option('--token <token>', 'API token (env CRMSYNC_API_TOKEN; default: <data-dir>/api-token)')
    .option('--json', 'print JSON only (for scripts)');
}

/** Options that configure a node (init and start). */
export function nodeOptions(cmd: Command): Command {
  return dirOptions(cmd)
    .option('--node-id <id>', "node id: lower-case letters, digits, '-' (env CRMSYNC_NODE_ID)")
    .option('--cluster <fingerprint>', "the cluster's founder key (env CRMSYNC_CLUSTER; default: this node founds one)")
    .option('--listen <host:port>', "where peers connect, or 'off' (env CRMSYNC_LISTEN; default 127.0.0.1:7400)")
    .option('--advertise <url>', 'the peer URL other machines reach this node at, for invitations (env CRMSYNC_ADVERTISE)')
    .option('--api <host:port>', 'where the HTTP API listens (env CRMSYNC_API; default 127.0.0.1:7401)')
    .option('--peers <urls>', 'comma-separated ws:// or wss:// URLs of peers (env CRMSYNC_PEERS)')
    .option('--tls <mode>', 'peer port TLS: auto (beyond loopback), self-signed or off (env CRMSYNC_TLS; default auto)')
    .option('--tls-cert <file>', "peer port certificate from an operator's PKI (env CRMSYNC_TLS_CERT)")
    .option('--tls-key <file>', 'private key of --tls-cert (env CRMSYNC_TLS_KEY)')
    .option('--tls-ca <file>', "CA that peers' certificates must chain to (env CRMSYNC_TLS_CA)")
    .option('--insecure', 'allow listening beyond loopback without TLS: test rigs only (env CRMSYNC_INSECURE)')
    .option('--api-tls <mode>', 'API HTTPS: auto (beyond loopback), self-signed or off (env CRMSYNC_API_TLS; default auto)')
    .option('--api-tls-cert <file>', 'API certificate (env CRMSYNC_API_TLS_CERT)')
    .option('--api-tls-key <file>', 'private key of --api-tls-cert (env CRMSYNC_API_TLS_KEY)')
    .option('--peer-token <secret>', 'optional shared secret of the cluster, besides the keys (env CRMSYNC_PEER_TOKEN)')
    .option('--token <token>', 'API token (env CRMSYNC_API_TOKEN; default: <data-dir>/api-token)')
    // Not .choices(): the config loader validates it, naming the flag like every other bad value.
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env CRMSYNC_LOG_LEVEL; default info)')
    .option('--merge-policies <rules>', 'field=rule,... e.g. custom.budget=max (env CRMSYNC_MERGE_POLICIES; default: owner-region territory and owner, monotonic stage)')
    .option('--anti-entropy-interval <duration>', 'compare records with a peer this often, e.g. 10m, 1h; 0 or off disables (env CRMSYNC_ANTI_ENTROPY_INTERVAL; default 10m)')
    .option('--log-retention <duration>', 'keep change-log entries at least this long, e.g. 30d, 12h (env CRMSYNC_LOG_RETENTION; default 30d)')
    .option('--tombstone-retention <duration>', 'keep deleted records restorable at least this long (env CRMSYNC_TOMBSTONE_RETENTION; default 30d)')
    .option('--lifecycle-interval <duration>', 'how often to pass on holds reports, collect tombstones and truncate the log (env CRMSYNC_LIFECYCLE_INTERVAL; default 1m)');
}

/** Commander's parsed options as command options: `--token` is the `apiToken` key. */
export function flagsOf<T extends Record<string, unknown>>(opts: T): Omit<T, 'token'> & ConfigFlags {
  const { token, ...rest } = opts;
  return { ...rest, ...(token === undefined ? {} : { apiToken: token as string }) } as Omit<T, 'token'> & ConfigFlags;
}

/** Example lines for `--help`. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
