/**
 * Vitest global setup: brings dist/ up to date before any test file runs, so the tests
 * that start `bin/crmsync.js` or the demo as processes run the compiled code users run,
 * never a stale build. Unit tests import the TypeScript sources and do not need it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** What `npm run build` compiles (tsconfig.build.json "include"). */
const SOURCE_DIRS = ['src', 'demo', 'bench'];

/** Output files under dist/<dir> whose source is gone (a file moved or deleted since the last build). */
function staleOutputs(dir: string): string[] {
  const out = join(ROOT, 'dist', dir);
  if (!existsSync(out)) return [];
  return readdirSync(out, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(d\.ts|js)$/.test(file))
    .filter((file) => !existsSync(join(ROOT, dir, file.replace(/\.(d\.ts|js)$/, '.ts'))))
    .map((file) => join(out, file));
}

/** Incremental `tsc -p tsconfig.build.json` (about 2 s when nothing changed), removes outputs of deleted sources, then bundles the CLI (bin/crmsync.js runs dist/cli). */
export default function buildDist(): void {
  // tsc prints its errors itself; execFileSync then throws and vitest stops.
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  // tsc never deletes what it once emitted: without this, dist/ (and `npm pack`) would keep them.
  for (const file of SOURCE_DIRS.flatMap(staleOutputs)) {
    rmSync(file);
    console.log(`removed stale build output ${relative(ROOT, file)}`);
  }
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-cli.mjs')], { cwd: ROOT, stdio: 'inherit' });
}
