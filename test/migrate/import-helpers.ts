/**
 * Helpers for the import tests: real files written by the tests into fresh temp dirs,
 * nodes on memory-level (fast) or real LevelDB, and one mapping shared by most tests.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterEach } from 'vitest';
import { openNode, type CrmNode, type RecordView } from '../../src/index.js';
import {
  memoryRejects, nodeSink, openSource, parseMapping, runImport,
  type ImportOptions, type ImportReport, type MappingInput, type Reject,
} from '../../src/migrate/import/index.js';
import { listAll } from '../support/records.js';
import { tempDirs, type TempDirs } from '../support/temp-dirs.js';

export { listAll };
export { tempDirs };

/** Writes a file (string or bytes) and returns its path. */
export async function file(dir: string, name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** A node on memory-level, closed by the returned `close`. */
export async function memoryNode(nodeId = 'importer'): Promise<CrmNode> {
  return openNode({ db: new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }), nodeId, listen: false, sync: false });
}

/** The mapping of the "legacy CRM" export the tests write. */
export const LEGACY_MAPPING: MappingInput = {
  key: { column: 'Customer ID' },
  defaults: { phoneCountry: 'DE' },
  fields: {
    name: { columns: ['First Name', 'Last Name'], transforms: ['collapse'] },
    email: { column: 'E-mail', transforms: ['email'] },
    phone: { column: 'Phone 1', transforms: ['phone'] },
    company: { column: 'Company', transforms: ['collapse'] },
    stage: { column: 'Status', transforms: [{ lookup: 'stages' }] },
    'custom.sourceId': { column: 'Customer ID' },
  },
  lookups: { stages: { Prospect: 'lead', Client: 'customer', Lost: 'lost' } },
};

/** The header of the legacy CSV. */
export const LEGACY_HEADER = ['Customer ID', 'First Name', 'Last Name', 'E-mail', 'Phone 1', 'Company', 'Status'];

/** Runs an import of a file into a node with in-memory rejects. */
export async function importFile(
  node: CrmNode, path: string, mapping: MappingInput = LEGACY_MAPPING, extra: Partial<ImportOptions> & { encoding?: 'utf8' | 'latin1' } = {},
): Promise<ImportReport & { rejects: Reject[] }> {
  const { encoding, ...rest } = extra;
  const source = await openSource(path, encoding ? { encoding } : {});
  const rejects = memoryRejects();
  try {
    const report = await runImport({ source, mapping: parseMapping(mapping), sink: nodeSink(node), sourceName: 'legacy', rejects, ...rest });
    return { ...report, rejects: rejects.entries };
  } finally {
    await source.close();
  }
}

/** The invariant every report must satisfy. */
export function addsUp(r: ImportReport): boolean {
  return r.read === r.created + r.updated + r.unchanged + r.rejected
    && r.scanned === r.read + r.skipped.alreadyCommitted + r.skipped.notNewer;
}

/** Temp dirs and in-memory nodes for one test file, closed and removed after each test. */
export function importHarness(): { dirs: TempDirs; node: () => Promise<CrmNode> } {
  const dirs = tempDirs('crmsync-import-');
  const nodes: CrmNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await dirs.cleanup();
  });
  const node = async () => {
    const n = await memoryNode();
    nodes.push(n);
    return n;
  };
  return { dirs, node };
}
