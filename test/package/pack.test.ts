/**
 * crmsync as users get it: `npm pack`, the tarball installed into a scratch project in
 * a temp directory (from the npm cache), then plain Node (no TypeScript loader) imports
 * the package, TypeScript resolves its declarations, and the installed `crmsync` bin runs.
 * It packs the dist/ the vitest global setup has just built (test/support/build.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, REPO_ROOT, runProcess } from '../cli/helpers.js';
import { tempDir } from '../support/temp-dirs.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** npm packs and installs from the cache; a few minutes on a loaded 2-core machine. */
const INSTALL_TIMEOUT_MS = 300_000;

/** cleanEnv() without the npm_* variables `npm test` sets, so the inner npm sees only its own project. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(cleanEnv()).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  // The bin's `#!/usr/bin/env node` must find this node.
  return { ...env, PATH: `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`, ...extra };
}

const run = async (file: string, args: string[], cwd: string, env = childEnv()) =>
  (await promisify(execFile)(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout;

/** Runs a process to its end without throwing on a non-zero exit. */
const runToEnd = (file: string, args: string[], cwd: string, env = childEnv()) => runProcess(file, args, { cwd, env });

let tmp: string;
let removeTmp: (() => Promise<void>) | undefined;
let app: string;
let files: string[];
let version: string;
/** What `npm install` of the tarball printed (stdout and stderr). */
let installOutput: string;

beforeAll(async () => {
  ({ dir: tmp, remove: removeTmp } = await tempDir('crmsync-pack-'));
  version = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // --ignore-scripts: dist/ is fresh, and a `prepare` build must not rewrite it while
  // other test files run the built CLI.
  const [packed] = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO_ROOT)) as
    { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((f) => f.path);
  app = join(tmp, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  const installed = await promisify(execFile)('npm', ['install', join(tmp, packed!.filename), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env: childEnv(), maxBuffer: 64 * 1024 * 1024 });
  installOutput = `${installed.stdout}${installed.stderr}`;
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  await removeTmp?.();
});

describe('the packed crmsync', () => {
  it('holds the build, the bin and the docs: no sources, tests, demo or bench', () => {
    const allowed = /^(dist\/src\/.+\.(js|d\.ts)|dist\/cli\/[^/]+\.js(\.map)?|bin\/crmsync\.js|docs\/[^/]+\.md|README\.md|package\.json)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.filter((f) => /^(src|test|demo|bench|dist\/demo|dist\/bench)\//.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['bin/crmsync.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/cli/main.js', 'README.md']));
    // Every compiled file still has its source (no stale output of a moved or deleted file).
    const orphans = files.filter((f) => f.startsWith('dist/src/'))
      .filter((f) => !existsSync(join(REPO_ROOT, f.replace(/^dist\//, '').replace(/\.(d\.ts|js)$/, '.ts'))));
    expect(orphans).toEqual([]);
  });

  it('installs into a project on this Node without an engine warning', () => {
    // A dependent gets no `overrides` of ours: fastify's inject helper (light-my-request)
    // resolved in the dependent's tree pulled cookie 2, whose engines ask for Node 22.
    expect(installOutput).toMatch(/added \d+ packages/);
    expect(installOutput).not.toContain('EBADENGINE');
  });

  it('imports in plain Node from the installed copy: a node writes, closes, reopens and reads', { timeout: 120_000 }, async () => {
    const script = `
      import { openNode, hasCode } from 'crmsync';
      const dataDir = process.argv[1];
      let node = await openNode({ dataDir, nodeId: 'packed', listen: false });
      const created = await node.records.create({ name: 'Ada Lovelace', email: 'ada@example.com', stage: 'lead' });
      const refused = await node.records.create({ id: created.id, name: 'Again' }).catch((err) => hasCode(err, 'ERR_EXISTS'));
      await node.close();
      node = await openNode({ dataDir, nodeId: 'packed', listen: false });
      const read = await node.records.get(created.id);
      await node.close();
      console.log(JSON.stringify({ resolved: import.meta.resolve('crmsync'), refused, read }));
    `;
    const out = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', script, join(tmp, 'db')], app)) as
      { resolved: string; refused: boolean; read: Record<string, unknown> };
    expect(out.resolved).toBe(pathToFileURL(join(app, 'node_modules', 'crmsync', 'dist', 'src', 'index.js')).href);
    expect(out.refused).toBe(true);
    expect(out.read).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', stage: 'lead', deleted: false });
  });

  it('gives TypeScript its declarations through the exports map', { timeout: 120_000 }, async () => {
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['use.ts'],
    }));
    await writeFile(join(app, 'use.ts'), [
      "import { openNode, type RecordView } from 'crmsync';",
      "const node = await openNode({ dataDir: 'db', listen: false });",
      "const view: RecordView | undefined = await node.records.get('cust-1');",
      'console.log(view?.name);',
      '// @ts-expect-error: the types are real, so a wrong option type is an error',
      'await openNode({ dataDir: 42 });',
      'export {};',
    ].join('\n'));
    const checked = await runToEnd(process.execPath, [TSC, '-p', app], app);
    expect(checked.stdout).toBe('');
    expect(checked.code).toBe(0);
  });

  it('installs a working crmsync bin', { timeout: 60_000 }, async () => {
    const bin = join(app, 'node_modules', '.bin', 'crmsync');
    const help = await runToEnd(bin, ['--help'], app);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: crmsync /);
    expect((await runToEnd(bin, ['--version'], app)).stdout.trim()).toBe(version);
    const bad = await runToEnd(bin, ['no-such-command'], app);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'no-such-command'/);
  });

  // Start-up stays fast because these commands never load the engine (Automerge,
  // LevelDB, ws), fastify or pino, and load the CLI bundle (with zod and commander in it)
  // instead of about 130 separate modules: guarded here by what each one loads.
  it('loads only the CLI bundle for --help and status, no other package', { timeout: 60_000 }, async () => {
    const hooks = join(tmp, 'record-loads.mjs');
    await writeFile(hooks, [
      "import { appendFileSync } from 'node:fs';",
      'export async function load(url, context, next) { appendFileSync(process.env.LOADS_FILE, `${url}\\n`); return next(url, context); }',
    ].join('\n'));
    await writeFile(join(tmp, 'register-loads.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const loadedBy = async (args: string[], expectedCode: number) => {
      const loads = join(tmp, `loads-${args[0]!.replace(/\W/g, '')}.txt`);
      const result = await runToEnd(join(app, 'node_modules', '.bin', 'crmsync'), args, app,
        childEnv({ LOADS_FILE: loads, NODE_OPTIONS: `--import=${pathToFileURL(join(tmp, 'register-loads.mjs')).href}` }));
      expect(result.code, result.stderr).toBe(expectedCode);
      const urls = (await readFile(loads, 'utf8')).split('\n').filter((url) => url.startsWith('file:'));
      const packages = urls.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((name): name is string => name !== undefined && name !== 'crmsync');
      const ours = urls.filter((url) => url.includes('/node_modules/crmsync/')).map((url) => url.replace(/^.*\/node_modules\/crmsync\//, ''));
      return { packages: [...new Set(packages)].sort(), outsideBundle: ours.filter((file) => !file.startsWith('dist/cli/') && file !== 'bin/crmsync.js'), files: ours.length };
    };
    const help = await loadedBy(['--help'], 0);
    expect(help).toMatchObject({ packages: [], outsideBundle: [] });
    // A directory that holds no node: exit 4 (not initialised) after reading the configuration.
    const status = await loadedBy(['status', '--data-dir', join(tmp, 'stopped')], 4);
    expect(status).toMatchObject({ packages: [], outsideBundle: [] });
    expect(status.files).toBeLessThan(20);
  });
});
