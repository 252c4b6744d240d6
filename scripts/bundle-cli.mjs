/**
 * Bundles the CLI (after `tsc` built dist/src) into dist/cli/: our code plus zod and
 * commander in a few minified ES module chunks. Starting a command then compiles a few
 * files instead of resolving and compiling about 130 (zod alone is 95), which is most of
 * what `crmsync status` and `--help` spent before their own work (README,
 * "Dependencies"). Every other dependency stays external: they load native or WebAssembly
 * parts or worker threads by path, and commands that need them import them lazily.
 * Code splitting keeps those lazy imports lazy.
 */
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
/** Pure JavaScript, needed by every command: worth bundling. */
const BUNDLED = new Set(['zod', 'commander']);
const external = Object.keys(pkg.dependencies).filter((name) => !BUNDLED.has(name)).flatMap((name) => [name, `${name}/*`]);

const outdir = new URL('dist/cli/', root).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [new URL('dist/src/cli/main.js', root).pathname],
  outdir, bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20',
  minify: true, keepNames: true, sourcemap: 'linked', external, logLevel: 'warning',
  // commander is CommonJS: its require() calls of Node built-ins need a real require.
  banner: { js: "import { createRequire as __crmsyncRequire } from 'node:module'; const require = __crmsyncRequire(import.meta.url);" },
});
