#!/usr/bin/env node
// The `crmsync` executable: the compiled CLI (`npm run build` writes dist/; `npm install`
// runs it through `prepare`). Plain Node, no TypeScript loader, so commands start fast.
await import('../dist/src/cli/main.js');
