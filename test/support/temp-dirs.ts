/**
 * Temp directories for tests, the one place that makes them: each test gets a fresh,
 * empty directory under the OS temp dir (never a shared fixed path), and every
 * directory made is removed again, also when the test failed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh, empty temp directory and its removal. */
export async function tempDir(prefix = 'crmsync-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Temp directories made on demand; `cleanup()` (in afterEach or afterAll) removes every one made so far. */
export interface TempDirs {
  make(): Promise<string>;
  cleanup(): Promise<void>;
}

/** A set of temp directories named `<prefix>XXXXXX`. */
export function tempDirs(prefix = 'crmsync-test-'): TempDirs {
  const made: (() => Promise<void>)[] = [];
  return {
    async make() {
      const { dir, remove } = await tempDir(prefix);
      made.push(remove);
      return dir;
    },
    async cleanup() {
      await Promise.all(made.splice(0).map((remove) => remove()));
    },
  };
}
