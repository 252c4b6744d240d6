/**
 * The `crmsync` executable (bin/crmsync.js runs it through tsx). The one exit point:
 * run() maps every outcome to a documented exit code (docs/cli.md).
 */
import { processIo } from './io.js';
import { run } from './program.js';

const code = await run(process.argv.slice(2), processIo());
process.exit(code);
