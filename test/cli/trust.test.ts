/**
 * The trust commands as an operator runs them, each its own process (bin/crmsync.js):
 * a founder invites a region, the region joins with the code, the list reaches it,
 * revocation; and every flag fed bad input (damaged and expired codes, unknown members,
 * a node that is not an administrator, bad roles and durations).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createInvitation, encodeInvitation } from '../../src/trust/invitation.js';
import { parseNodeId } from '../../src/types.js';
import { runCli, startProcess, tempDir, type CliResult, type NodeProcess } from './helpers.js';

let dir: { path: string; remove(): Promise<void> };
const processes: NodeProcess[] = [];
let berlin: string;
let paris: string;
/** berlin's key fingerprint, as init printed it. */
let founder: string;

/** Ports 0 on loopback, like every test node. */
const LOCAL = ['--listen', '127.0.0.1:0', '--api', '127.0.0.1:0'];

/** The error object a `--json` run printed on stderr. */
const jsonError = (r: CliResult): { code: string; message: string; hint?: string } => (JSON.parse(r.stderr) as { error: { code: string; message: string; hint?: string } }).error;

async function start(dataDir: string, ...args: string[]): Promise<NodeProcess> {
  const p = await startProcess(['-d', dataDir, ...args]);
  processes.push(p);
  return p;
}

async function stop(p: NodeProcess): Promise<void> {
  p.child.kill('SIGTERM');
  expect((await p.exited).code).toBe(0);
}

beforeAll(async () => {
  dir = await tempDir('crmsync-trust-');
  berlin = join(dir.path, 'berlin');
  paris = join(dir.path, 'paris');
});
afterAll(async () => {
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  await dir.remove();
});

describe('a founder invites a region, which joins with the code', () => {
  // About twenty CLI processes on a loaded 2-core machine.
  it('init founds, trust invite, init --join, start redeems, trust list on both, trust remove', { timeout: 240_000 }, async () => {
    const made = await runCli(['init', '-d', berlin, '--node-id', 'berlin', ...LOCAL, '--json']);
    expect(made.code).toBe(0);
    const result = JSON.parse(made.stdout) as { key: string; keyFile: string; cluster: { mode: string; founder: string } };
    founder = result.key;
    expect(result.cluster).toEqual({ mode: 'found', founder });
    expect(result.keyFile).toBe(join(berlin, 'node.key'));
    expect((await stat(result.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(berlin)).mode & 0o777).toBe(0o700);
    const b = await start(berlin);

    const invited = await runCli(['trust', 'invite', '--node', 'paris', '--role', 'region', '--expires', '1h', '-d', berlin, '--json']);
    expect(invited.code).toBe(0);
    const invitation = JSON.parse(invited.stdout) as { code: string; node: string; role: string; expires: number; urls: string[]; command: string };
    expect(invitation).toMatchObject({ node: 'paris', role: 'region', urls: [b.ready.url] });
    expect(invitation.code).toMatch(/^crmsync-invite:/);
    expect(invitation.expires - Date.now()).toBeGreaterThan(50 * 60_000);
    // Without --json: the code alone on stdout (for scripts), the command to run on stderr.
    const human = await runCli(['trust', 'invite', '--node', 'lyon', '--role', 'laptop', '-d', berlin]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^crmsync-invite:\S+\n$/);
    expect(human.stderr).toContain('crmsync init --join crmsync-invite:');
    // berlin's URL is a loopback one: the code is of no use on another machine, and it says so.
    expect(human.stderr).toContain(`note: ${b.ready.url} is on loopback: only a node on this machine can redeem the code. For another machine pass --url`);

    const joined = await runCli(['init', '-d', paris, '--join', invitation.code, ...LOCAL, '--json']);
    expect(joined.code).toBe(0);
    expect(JSON.parse(joined.stdout)).toMatchObject({ nodeId: 'paris', peers: [b.ready.url], cluster: { mode: 'join', founder, node: 'paris', role: 'region', issuer: 'berlin' } });
    expect((await stat(join(paris, 'invitation'))).mode & 0o777).toBe(0o600);
    const p = await start(paris);

    // paris redeems the code at start; berlin's grant then reaches it.
    await vi.waitFor(async () => {
      const listed = await runCli(['trust', 'list', '-d', paris, '--json']);
      expect(JSON.parse(listed.stdout)).toMatchObject({ founder, self: { node: 'paris', role: 'region', admin: false } });
    }, { timeout: 60_000, interval: 200 });
    // The used code is removed once the node is a member.
    await vi.waitFor(() => expect(stat(join(paris, 'invitation'))).rejects.toMatchObject({ code: 'ENOENT' }), { timeout: 20_000, interval: 100 });
    const onBerlin = await runCli(['trust', 'list', '-d', berlin]);
    expect(onBerlin.code).toBe(0);
    expect(onBerlin.stdout).toMatch(/^berlin +region +yes +all records +ed25519:\S+/m);
    expect(onBerlin.stdout).toMatch(/^paris +region +no +all records +ed25519:\S+/m);
    const status = await runCli(['status', '-d', berlin, '--json']);
    expect(JSON.parse(status.stdout).peers).toEqual([expect.objectContaining({ node: 'paris', role: 'region', state: 'connected' })]);

    // Bad input on a running node: unknown member, a node that is not an administrator, a damaged key.
    const unknown = await runCli(['trust', 'remove', 'nobody', '-d', berlin, '--json']);
    expect(unknown.code).toBe(4);
    expect(jsonError(unknown)).toMatchObject({ code: 'ERR_NOT_FOUND' });
    const notAdmin = await runCli(['trust', 'invite', '--node', 'rome', '--role', 'laptop', '-d', paris]);
    expect(notAdmin.code).toBe(7);
    expect(notAdmin.stderr).toMatch(/^error ERR_UNAUTHORIZED: this node is not an administrator of its cluster/m);
    expect(notAdmin.stderr).toContain(`hint: run it on an administrator node (\`crmsync trust list -d ${paris}\` marks them)`);
    const notAdminRemove = await runCli(['trust', 'remove', 'berlin', '-d', paris, '--json']);
    expect([notAdminRemove.code, jsonError(notAdminRemove).code]).toEqual([7, 'ERR_UNAUTHORIZED']);
    const badKey = await runCli(['trust', 'add', 'ed25519:short', '--node', 'rome', '--role', 'region', '-d', berlin]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/invalid <fingerprint or invitation> "ed25519:short"/);
    // An invitation for paris, given to berlin (a member, and another node).
    const wrongNode = await runCli(['trust', 'add', invitation.code, '-d', berlin, '--json']);
    expect([wrongNode.code, jsonError(wrongNode).code]).toEqual([2, 'ERR_VALIDATION']);
    expect(jsonError(wrongNode).message).toContain('the invitation is for node "paris", and this node is "berlin"');

    // Granting by key (init --cluster on the new machine): over the running node's API.
    const rome = join(dir.path, 'rome');
    const waiting = await runCli(['init', '-d', rome, '--node-id', 'rome', '--cluster', founder, ...LOCAL, '--json']);
    expect(JSON.parse(waiting.stdout)).toMatchObject({ cluster: { mode: 'await-grant', founder } });
    const romeKey = (JSON.parse(waiting.stdout) as { key: string }).key;
    const granted = await runCli(['trust', 'add', romeKey, '--node', 'rome', '--role', 'read-only', '-d', berlin, '--json']);
    expect(granted.code).toBe(0);
    expect(JSON.parse(granted.stdout)).toEqual({ member: expect.objectContaining({ node: 'rome', key: romeKey, role: 'read-only', admin: false }) });
    // A node id is bound to its key for life: the same key under another id is refused.
    const again = await runCli(['trust', 'add', romeKey, '--node', 'milan', '--role', 'region', '-d', berlin, '--json']);
    expect([again.code, jsonError(again).code]).toEqual([5, 'ERR_EXISTS']);

    const revoked = await runCli(['trust', 'remove', 'paris', '-d', berlin, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ revoked: { node: 'paris' } });
    const after = JSON.parse((await runCli(['trust', 'list', '-d', berlin, '--json'])).stdout) as { members: { node: string }[]; revoked: { node: string | null }[] };
    expect(after.members.map((m) => m.node).sort()).toEqual(['berlin', 'rome']);
    expect(after.revoked).toEqual([expect.objectContaining({ node: 'paris' })]);
    // Revocation takes effect on the live session.
    await vi.waitFor(async () => {
      const s = JSON.parse((await runCli(['status', '-d', berlin, '--json'])).stdout) as { peers: { node: string; state: string }[] };
      expect(s.peers.filter((x) => x.state === 'connected')).toEqual([]);
    }, { timeout: 30_000, interval: 200 });

    await stop(p);
    await stop(b);
    // Stopped: the trust commands open the data directory itself.
    const offline = await runCli(['trust', 'list', '-d', berlin, '--json']);
    expect(offline.code).toBe(0);
    expect(JSON.parse(offline.stdout)).toMatchObject({ self: { node: 'berlin', admin: true }, revoked: [expect.objectContaining({ node: 'paris' })] });
  });
});

describe('bad input', () => {
  it('init --join refuses a damaged code, an expired one and another --node-id, and writes nothing', { timeout: 120_000 }, async () => {
    const target = join(dir.path, 'never');
    const damaged = await runCli(['init', '-d', target, '--join', 'crmsync-invite:AAAA', '--json']);
    expect(damaged.code).toBe(2);
    expect(jsonError(damaged)).toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringContaining('invalid --join') });
    expect(jsonError(damaged).hint).toContain('crmsync trust invite');
    const notACode = await runCli(['init', '-d', target, '--join', 'hello']);
    expect(notACode.code).toBe(2);
    expect(notACode.stderr).toMatch(/it must start with crmsync-invite:/);

    const expired = encodeInvitation(createInvitation({
      founder, issuer: parseNodeId('berlin'), issuerKey: founder, urls: ['ws://127.0.0.1:9'], node: parseNodeId('oslo'), role: 'laptop', expires: Date.now() - 60_000,
    }));
    const late = await runCli(['init', '-d', target, '--join', expired, '--json']);
    expect(late.code).toBe(2);
    expect(jsonError(late)).toMatchObject({ code: 'ERR_EXPIRED', message: expect.stringMatching(/^the invitation for "oslo" expired at /), hint: expect.stringContaining('crmsync trust invite --node oslo --role laptop') });
    // The one-time secret is never echoed.
    expect(late.stderr).not.toContain(expired.slice(30));

    const fresh = encodeInvitation(createInvitation({
      founder, issuer: parseNodeId('berlin'), issuerKey: founder, urls: ['ws://127.0.0.1:9'], node: parseNodeId('oslo'), role: 'laptop', expires: Date.now() + 3_600_000,
    }));
    const otherId = await runCli(['init', '-d', target, '--join', fresh, '--node-id', 'bergen']);
    expect(otherId.code).toBe(2);
    expect(otherId.stderr).toMatch(/invalid --node-id "bergen": the invitation is for node id "oslo"/);
    const both = await runCli(['init', '-d', target, '--join', fresh, '--cluster', founder]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/invalid --cluster/);
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });

    // trust add CODE on a node waiting for its grant keeps it; an expired one is refused.
    const waiting = join(dir.path, 'oslo');
    expect((await runCli(['init', '-d', waiting, '--node-id', 'oslo', '--cluster', founder, ...LOCAL])).code).toBe(0);
    const lateAdd = await runCli(['trust', 'add', expired, '-d', waiting, '--json']);
    expect([lateAdd.code, jsonError(lateAdd).code]).toEqual([2, 'ERR_EXPIRED']);
    const kept = await runCli(['trust', 'add', fresh, '-d', waiting, '--json']);
    expect(kept.code).toBe(0);
    expect(JSON.parse(kept.stdout)).toMatchObject({ plan: { mode: 'join', node: 'oslo', role: 'laptop' }, restart: false });
    expect((await readFile(join(waiting, 'invitation'), 'utf8')).trim()).toBe(fresh);
    const viaApi = await runCli(['trust', 'add', fresh, '--api', 'http://127.0.0.1:9', '--token', 'x'.repeat(20)]);
    expect(viaApi.code).toBe(2);
    expect(viaApi.stderr).toContain('an invitation is redeemed by the node it names');
  });

  it('trust flags name themselves: --role, --node, --expires, --url, a member that is neither id nor key', { timeout: 120_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['trust', 'invite', '--node', 'rome', '--role', 'boss'], /invalid --role "boss": must be one of region, laptop, read-only/],
      [['trust', 'invite', '--role', 'laptop'], /invalid --node "": required/],
      [['trust', 'invite', '--node', 'Rome!', '--role', 'laptop'], /invalid --node "Rome!"/],
      [['trust', 'invite', '--node', 'rome', '--role', 'laptop', '--expires', '90d'], /invalid --expires "90d": must be a duration such as 30m, 1h or 7d, from 1 minute to 30 days/],
      [['trust', 'invite', '--node', 'rome', '--role', 'laptop', '--expires', 'soon'], /invalid --expires "soon"/],
      [['trust', 'invite', '--node', 'rome', '--role', 'laptop', '--url', 'http://x'], /invalid --url "http:\/\/x"/],
      [['trust', 'add', founder, '--node', 'rome'], /invalid --role "": required/],
      [['trust', 'remove', 'Not A Member'], /invalid <node or fingerprint> "Not A Member"/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, '-d', berlin]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    // A directory init never ran on: exit 4, and how to make one.
    const nowhere = await runCli(['trust', 'list', '-d', join(dir.path, 'nowhere')]);
    expect(nowhere.code).toBe(4);
    expect(nowhere.stderr).toMatch(/hint: create it with: crmsync init/);
  });
});

describe('TLS and --insecure beyond loopback', () => {
  it('start refuses plain ws:// on 0.0.0.0 without --insecure, and with it warns and status shows it', { timeout: 120_000 }, async () => {
    const wide = join(dir.path, 'wide');
    expect((await runCli(['init', '-d', wide, '--node-id', 'wide', '--listen', '0.0.0.0:0', '--api', '127.0.0.1:0', '--tls', 'off'])).code).toBe(0);
    const refused = await runCli(['start', '-d', wide]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/error ERR_VALIDATION: refusing to listen on 0\.0\.0\.0 without TLS/);
    expect(refused.stderr).toMatch(/hint: peers beyond loopback need TLS: .*--insecure/);

    const node = await start(wide, '--insecure');
    expect(node.ready.url).toMatch(/^ws:\/\/0\.0\.0\.0:\d+$/);
    expect(node.lines.join('\n')).toContain('WARNING: --insecure');
    const s = await runCli(['status', '-d', wide]);
    expect(s.stdout).toMatch(/^peer URL +ws:\/\/0\.0\.0\.0:\d+ +INSECURE/m);
    expect(s.stderr).toContain('warning: this node accepts peers beyond loopback without TLS (--insecure)');
    await stop(node);

    // The default (tls auto): wss:// with a certificate bound to the node key.
    const node2 = await start(wide, '--tls', 'auto');
    expect(node2.ready.url).toMatch(/^wss:\/\/0\.0\.0\.0:\d+$/);
    expect(JSON.parse((await runCli(['status', '-d', wide, '--json'])).stdout)).toMatchObject({ insecure: false });
    await stop(node2);
  });
});
