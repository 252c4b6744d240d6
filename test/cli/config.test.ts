/** Configuration: precedence file < env < flag, validation naming source and key, token file modes, docs. */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { init } from '../../src/cli/commands/init.js';
import { run } from '../../src/cli/program.js';
import { KEYS, KEY_NAMES, parseHostPort } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { readTokenFile } from '../../src/config/token.js';
import { hasCode } from '../../src/index.js';
import { memoryIo, REPO_ROOT, tempDir } from './helpers.js';

let dir: { path: string; remove(): Promise<void> };
beforeEach(async () => (dir = await tempDir()));
afterEach(async () => dir.remove());

const writeConfig = (content: unknown) => writeFile(join(dir.path, 'crmsync.json'), JSON.stringify(content));

describe('precedence', () => {
  it('takes defaults < file < env < flag, and reports each source', async () => {
    await writeConfig({ nodeId: 'from-file', listen: '127.0.0.1:1001', api: '127.0.0.1:2001', logLevel: 'warn' });
    const env = { CRMSYNC_DATA_DIR: dir.path, CRMSYNC_LISTEN: '127.0.0.1:1002', CRMSYNC_API: '127.0.0.1:2002' };
    const loaded = await loadConfig({ env, flags: { api: '127.0.0.1:2003' }, readToken: false });
    expect(loaded.config).toMatchObject({ dataDir: dir.path, nodeId: 'from-file', listen: '127.0.0.1:1002', api: '127.0.0.1:2003', logLevel: 'warn', peers: [] });
    expect(loaded.sources).toMatchObject({
      dataDir: { kind: 'env', where: 'CRMSYNC_DATA_DIR' }, nodeId: { kind: 'file' }, listen: { kind: 'env' },
      api: { kind: 'flag', where: '--api' }, logLevel: { kind: 'file' }, peers: { kind: 'default' },
    });
  });

  it('splits comma-separated peers from env and flags; the higher source replaces the list', async () => {
    await writeConfig({ peers: ['ws://a:1'] });
    const env = { CRMSYNC_PEERS: 'ws://b:1, ws://c:1' };
    expect((await loadConfig({ env, flags: { dataDir: dir.path }, readToken: false })).config.peers).toEqual(['ws://b:1', 'ws://c:1']);
    expect((await loadConfig({ env, flags: { dataDir: dir.path, peers: 'ws://d:1' }, readToken: false })).config.peers).toEqual(['ws://d:1']);
  });

  it('reads a --config file elsewhere, its dataDir relative to the file', async () => {
    const file = join(dir.path, 'etc', 'node.json');
    await run(['init', '-c', file, '-d', join(dir.path, 'data'), '--node-id', 'far'], memoryIo());
    await writeFile(file, JSON.stringify({ dataDir: '../data', nodeId: 'far' }));
    const loaded = await loadConfig({ flags: { config: file } });
    expect(loaded.config).toMatchObject({ dataDir: join(dir.path, 'data'), nodeId: 'far' });
    expect(loaded.config.apiToken).toMatch(/^[\w-]{43}$/);
  });
});

describe('validation', () => {
  const reject = async (options: Parameters<typeof loadConfig>[0]) => {
    const err = await loadConfig({ readToken: false, ...options }).then(() => undefined, (e: unknown) => e);
    expect(hasCode(err, 'ERR_VALIDATION')).toBe(true);
    return (err as Error).message;
  };

  it('names the flag, the variable or the file and the key', async () => {
    expect(await reject({ flags: { dataDir: dir.path, listen: 'nowhere' } })).toMatch(/flag --listen "nowhere" \(key "listen"\): must be host:port/);
    expect(await reject({ flags: { dataDir: dir.path }, env: { CRMSYNC_NODE_ID: 'Berlin!' } })).toMatch(/environment variable CRMSYNC_NODE_ID="Berlin!" \(key "nodeId"\): must be 1-63 lower-case/);
    await writeConfig({ peers: ['http://x:1'], logLevel: 'loud' });
    const message = await reject({ flags: { dataDir: dir.path } });
    expect(message).toContain(`config file ${join(dir.path, 'crmsync.json')}, key "peers"`);
    expect(message).toMatch(/key "logLevel" = "loud": must be one of fatal/);
  });

  it('rejects unknown keys, bad JSON and a missing --config file', async () => {
    await writeConfig({ lisen: '1.2.3.4:5' });
    expect(await reject({ flags: { dataDir: dir.path } })).toMatch(/unknown key "lisen"; valid keys are dataDir, nodeId, cluster, listen/);
    await writeFile(join(dir.path, 'crmsync.json'), '{"nodeId": ');
    expect(await reject({ flags: { dataDir: dir.path } })).toMatch(/is not valid JSON/);
    expect(await reject({ flags: { config: join(dir.path, 'nope.json') } })).toMatch(/nope\.json does not exist \(given by --config\)/);
  });

  it('never echoes a secret', async () => {
    const message = await reject({ flags: { dataDir: dir.path, peerToken: 'short' } });
    expect(message).toContain('flag --peer-token (hidden)');
    expect(message).not.toContain('short');
  });

  it('exits 2 through the CLI with the message on stderr', async () => {
    const io = memoryIo({ env: { CRMSYNC_LOG_LEVEL: 'loud' } });
    expect(await run(['config', 'show', '-d', dir.path], io)).toBe(2);
    expect(io.stderr).toMatch(/error ERR_VALIDATION: invalid configuration:\n {2}- environment variable CRMSYNC_LOG_LEVEL="loud" \(key "logLevel"\)/);
    expect(io.stdout).toBe('');
  });

  it('parses host:port forms', () => {
    expect(parseHostPort('0.0.0.0:7400')).toEqual({ host: '0.0.0.0', port: 7400 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseHostPort('http://localhost:8080/')).toEqual({ host: 'localhost', port: 8080 });
    expect(parseHostPort('localhost:99999')).toBeUndefined();
    expect(parseHostPort('localhost')).toBeUndefined();
  });
});

describe('init and the token file', () => {
  it('writes crmsync.json and a 0600 token, refuses to overwrite without --force, keeps the token with it', async () => {
    const io = memoryIo();
    const result = await init({ dataDir: dir.path, listen: '127.0.0.1:0', peers: 'ws://10.0.0.2:7400' }, io);
    expect(result.nodeId).toMatch(/^[a-z0-9][a-z0-9-]*-[0-9a-f]{4}$/);
    expect((await stat(result.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stat(result.configFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(result.configFile, 'utf8'))).toEqual({ nodeId: result.nodeId, cluster: result.key, listen: '127.0.0.1:0', api: '127.0.0.1:7401', peers: ['ws://10.0.0.2:7400'] });
    // The node key: 0600 beside the data, and this node founds its cluster.
    expect((await stat(result.keyFile)).mode & 0o777).toBe(0o600);
    expect(result.cluster).toEqual({ mode: 'found', founder: result.key });
    // What was created is the output; the next steps are hints, on stderr.
    expect(io.stdout).toContain(`Initialised crmsync node "${result.nodeId}"`);
    expect(io.stdout).not.toContain('crmsync start');
    expect(io.stderr).toContain(`crmsync start --data-dir ${dir.path}`);
    const token = await readFile(result.tokenFile, 'utf8');

    const again = memoryIo();
    expect(await run(['init', '-d', dir.path, '--node-id', 'other'], again)).toBe(5);
    expect(again.stderr).toMatch(/^error ERR_EXISTS: .*crmsync\.json already exists\nhint: pass --force/);

    const forced = memoryIo();
    expect(await run(['init', '-d', dir.path, '--node-id', 'other', '--force', '--json'], forced)).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ nodeId: 'other', tokenCreated: false });
    expect(await readFile(result.tokenFile, 'utf8')).toBe(token);
  });

  it('repairs a token file readable by others, with a warning', async () => {
    const { tokenFile } = await init({ dataDir: dir.path, json: true }, memoryIo());
    await chmod(tokenFile, 0o644);
    const warnings: string[] = [];
    expect(await readTokenFile(tokenFile, (m) => warnings.push(m))).toMatch(/^[\w-]{43}$/);
    expect(warnings).toEqual([expect.stringMatching(/was accessible to other users \(mode 0644\); changed it to 0600/)]);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
  });

  it('config show masks secrets and names sources', async () => {
    await init({ dataDir: dir.path, nodeId: 'berlin', peerToken: 'cluster-secret-1' }, memoryIo());
    const io = memoryIo({ env: { CRMSYNC_LISTEN: '0.0.0.0:7400' } });
    expect(await run(['config', 'show', '-d', dir.path, '--json'], io)).toBe(0);
    const { values } = JSON.parse(io.stdout) as { values: Record<string, { value: unknown; source: { kind: string } }> };
    expect(values.listen).toEqual({ value: '0.0.0.0:7400', source: { kind: 'env', where: 'CRMSYNC_LISTEN' } });
    expect(values.nodeId!.source.kind).toBe('file');
    expect(values.apiToken!.source.kind).toBe('token-file');
    expect(io.stdout).not.toContain('cluster-secret-1');
    expect(io.stdout).not.toContain(await readFile(join(dir.path, 'api-token'), 'utf8').then((t) => t.trim()));
    const human = memoryIo();
    expect(await run(['config', 'show', '-d', dir.path], human)).toBe(0);
    expect(human.stdout).toMatch(/^peerToken +clus…\(16 chars\) +file \(/m);
  });
});

it('docs/configuration.md documents every key, its variable and its flag', async () => {
  const docs = await readFile(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  for (const key of KEY_NAMES) {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
    expect(row, key).toBeDefined();
    expect(row).toContain(KEYS[key].env);
    expect(row).toContain(KEYS[key].flag);
  }
});
