/**
 * Removing records for good (engine/purge.ts) against real LevelDB: the record goes, and
 * so does its partial-history mark (engine/partial.ts), in the same batch; the marks of
 * records that stay are kept.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { partialKey, PARTIAL_PREFIX } from '../../src/engine/partial.js';
import { purgeRecords } from '../../src/engine/purge.js';
import { parseRecordId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';
import { metaOf, openAt, put } from './store-writer.js';

const dirs = tempDirs('crmsync-purge-');
afterAll(() => dirs.cleanup());

describe('purging records', () => {
  it('deletes the partial-history marks of the records it removes, and no others', async () => {
    const dir = await dirs.make();
    let open = await openAt(dir);
    for (const id of ['erased', 'collected', 'kept']) await put(open.writer, id, metaOf(id, []));
    const ids = ['erased', 'collected', 'kept', 'never-held'].map(parseRecordId);
    await open.store.putState(ids.map((id) => [partialKey(id), true]));

    expect(await purgeRecords(open.writer, open.store, [parseRecordId('erased')], [['erasures/applied', 1]], { redact: true })).toBe(1);
    expect(await purgeRecords(open.writer, open.store, [parseRecordId('collected')], [], { redact: false })).toBe(1);
    await open.close();

    open = await openAt(dir);
    expect(await open.store.getMeta(parseRecordId('erased'))).toBeUndefined();
    expect(await open.store.getMeta(parseRecordId('kept'))).toBeDefined();
    expect((await open.store.stateEntries(PARTIAL_PREFIX)).map(([key]) => key)).toEqual([partialKey(parseRecordId('kept')), partialKey(parseRecordId('never-held'))]);
    expect(await open.store.getState('erasures/applied')).toBe(1);
    await open.close();
  });
});
