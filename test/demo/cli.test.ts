/** `npm run demo -- --help` and bad options, as real processes (nothing is started for either). */
import { describe, expect, it } from 'vitest';
import { startDemo } from './demo-process.js';

async function run(args: string[]) {
  const demo = startDemo(args);
  const code = await demo.closed;
  return { code, stdout: demo.stdout(), stderr: demo.stderr() };
}

describe('npm run demo options', () => {
  it('prints every option for --help and -h, and exits 0 without starting anything', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await run([flag]);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^usage: npm run demo -- \[options\]/);
      for (const option of ['--story', '--port N', '--host H', '--customers N', '--launcher cli|agent', '-h, --help']) expect(stdout).toContain(option);
      expect(stdout).not.toContain('Starting');
    }
  });

  it('names an unknown option and exits 2', async () => {
    const { code, stdout, stderr } = await run(['--prot', '80']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe("npm run demo: Unknown option '--prot'.\nRun `npm run demo -- --help` for the options.\n");
  });

  it('explains bad values and stray arguments, exiting 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--port', 'http'], /--port must be a port number \(0 = any free port\), not http\./],
      [['--customers', '1'], /--customers must be a whole number from 2 to 10000, not 1\./],
      [['--launcher', 'docker'], /--launcher must be cli or agent, not docker\./],
      [['story'], /Unexpected argument 'story'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach(({ code, stderr }, i) => {
      expect(code, cases[i]![0].join(' ')).toBe(2);
      expect(stderr).toMatch(cases[i]![1]);
      expect(stderr).toMatch(/npm run demo -- --help/);
    });
  });
});
