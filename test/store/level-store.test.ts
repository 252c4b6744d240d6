import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { afterAll, describe, expect, it } from 'vitest';
import { openLevelStore } from '../../src/store/level-store.js';
import { parseNodeId } from '../../src/types.js';
import { hasCode } from '../../src/errors.js';
import { runStoreConformance } from './store-conformance.js';
import { tempDirs } from '../support/temp-dirs.js';

const KEY = 'ed25519:' + 'A'.repeat(43);
const options = (nodeId?: string) => ({
  createIdentity: () => ({ nodeId: parseNodeId(nodeId ?? 'generated'), key: KEY, founder: KEY }),
  logTailSize: 8,
  groupCommitMax: 16,
});

const dirs = tempDirs('crmsync-store-');
afterAll(() => dirs.cleanup());

// Each test gets a fresh database: a new factory per `it` would need hooks, so the
// factory hands out a new database whenever the previous one was opened with a node id.
function diskFactory() {
  let dir = '';
  return {
    async open(nodeId?: string) {
      if (nodeId === 'a' || dir === '') dir = await dirs.make();
      return openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options(nodeId));
    },
  };
}

function memoryFactory() {
  let db: MemoryLevel<string, Uint8Array> | undefined;
  return {
    async open(nodeId?: string) {
      if (nodeId === 'a' || !db) db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' });
      return openLevelStore(db, options(nodeId));
    },
  };
}

runStoreConformance('classic-level on disk', diskFactory());
runStoreConformance('memory-level', memoryFactory());

describe('LevelStore on disk', () => {
  it('refuses a second process-level open of a locked directory with ERR_LOCKED', async () => {
    const dir = await dirs.make();
    const first = await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options('a'));
    let error: unknown;
    await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options('a')).catch((err) => (error = err));
    expect(hasCode(error, 'ERR_LOCKED')).toBe(true);
    await first.close();
  });
});
