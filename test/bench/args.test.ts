/**
 * The bench scripts' command lines, run as a developer runs them (`node dist/bench/*.js`,
 * built by the global setup): a bad flag or value ends with what is wrong, the usage and
 * exit code 2, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { USAGE_EXIT } from '../../bench/args.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function bench(script: string, args: string[]) {
  const run = spawnSync(process.execPath, [`dist/bench/${script}.js`, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Exit 2, the message first, then the usage; no stack trace. */
function expectUsageError(result: ReturnType<typeof bench>, message: RegExp): void {
  expect(result.code, result.stderr).toBe(USAGE_EXIT);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).toMatch(/\n\nusage: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

describe('bench command lines', () => {
  it('prints the usage for --help and -h, and exits 0', () => {
    for (const [script, flag] of [['run', '--help'], ['import', '-h'], ['storage', '--help']] as const) {
      const result = bench(script, [flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^usage: .*\[--seed 1\]/);
    }
  });

  it('refuses unknown flags and values that do not parse, saying which', () => {
    expectUsageError(bench('run', ['--bogus']), /Unknown option '--bogus'/);
    expectUsageError(bench('run', ['--n', '500']), /^--n 500: give a whole number of records, at least 2000/);
    expectUsageError(bench('run', ['--phases', 'p9']), /^--phases p9 is not supported/);
    expectUsageError(bench('run', ['--fanout', '10,x']), /^--fanout 10,x is not a list of laptop counts/);
    expectUsageError(bench('run', ['--prof=yes']), /--prof/);
    expectUsageError(bench('run', ['--seed', 'abc']), /^--seed abc: give a whole number, at least 0/);
    expectUsageError(bench('run', ['--import-n', '500']), /^--import-n 500: give 0 to skip the import phase, or at least 1000 rows/);
    expectUsageError(bench('run', ['--storage-records', '3']), /^--storage-records 3: give a whole number of records, at least 10/);
    expectUsageError(bench('run', ['--link', '10mbit']), /^--link: 10mbit is not a rate and a round trip/);
    expectUsageError(bench('run', ['--phases', 'link', '--link', '1bit,40ms']), /^--link: 1bit,40ms is not a rate and a round trip/);
    expectUsageError(bench('import', ['--seed', '-']), /^--seed -: give a whole number, at least 0/);
    expectUsageError(bench('import', ['--n', '1e2']), /^--n 1e2: give a whole number of rows, at least 1000/);
    expectUsageError(bench('storage', ['--records', '3']), /^--records 3: give a whole number of records, at least 10/);
    expectUsageError(bench('storage', ['extra']), /Unexpected argument 'extra'/);
  });

  it('refuses a value that is no whole number (or no link) for every flag that takes one, naming the flag', () => {
    // Values with no digit, and a few numbers that are not whole: none is a valid count,
    // seed or link, so every run ends at the command line (a valid one would start the bench).
    const badValue = fc.oneof(
      fc.constantFrom('-1', '1.5', '1e400', '12abc', ' '),
      fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/\d/.test(s)),
    );
    const flags = ['--n', '--seed', '--fanout', '--import-n', '--storage-edits', '--storage-records', '--link', '--unknown'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...flags), badValue, (flag, value) => {
        const result = bench('run', [flag, value]);
        expect(result.code, result.stderr).toBe(USAGE_EXIT);
        expect(result.stderr).toContain(flag);
        expect(result.stderr).toMatch(/\n\nusage: /);
        expect(result.stderr).not.toMatch(/\n\s+at /);
        expect(result.stdout).toBe('');
      }),
      { numRuns: 24, seed: 7 },
    );
  });
});
