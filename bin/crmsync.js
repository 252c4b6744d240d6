#!/usr/bin/env node
// The `crmsync` executable: the compiled CLI, bundled (`npm run build` writes dist/src with
// tsc, then dist/cli with scripts/bundle-cli.mjs; `npm install` runs it through `prepare`).
// Plain Node, no TypeScript loader, a few files to load: commands start fast.
await import('../dist/cli/main.js');
