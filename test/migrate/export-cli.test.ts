/**
 * `crmsync export` as a command function: a stopped node's data directory (to a file
 * and to stdout, filtered, with a mapping file) and a running node through the real
 * HTTP API.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import type { CrmNode } from '../../src/index.js';
import { memoryIo } from '../cli/helpers.js';
import { customer, nodeOfDataDir, tempDir } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
const cleanup: (() => Promise<void>)[] = [];
beforeEach(async () => {
  ({ dir, remove } = await tempDir('crmsync-export-cli-'));
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await remove();
});

async function seeded(dataDir: string, nodeId: string): Promise<CrmNode> {
  const node = await nodeOfDataDir(dataDir, nodeId);
  await node.records.upsertMany(Array.from({ length: 25 }, (_, i) => {
    const { id, ...fields } = customer(i, { notes: `note, "quoted"\nsecond line ${i}` });
    return { id, fields };
  }));
  await node.records.delete('c-00004');
  return node;
}

describe('crmsync export', () => {
  it('exports a stopped node to a file, to stdout, filtered and through a mapping', async () => {
    const dataDir = join(dir, 'berlin');
    await (await seeded(dataDir, 'berlin')).close();

    const io = memoryIo({ cwd: dir });
    const summary = await exportCommand({ dataDir, out: 'north.csv', territory: 'north' }, io);
    expect(io.stdout).toMatch(/exported\s+\d+/);
    const rows = parse(await readFile(join(dir, 'north.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.length).toBe(summary.records);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.territory === 'north')).toBe(true);
    expect(rows[0]!.notes).toMatch(/^note, "quoted"\nsecond line/);

    const nd = memoryIo();
    await exportCommand({ dataDir, format: 'ndjson', includeDeleted: true }, nd);
    expect(nd.stdout.trimEnd().split('\n')).toHaveLength(25);
    expect(nd.stderr).toMatch(/exported\s+25/);

    await writeFile(join(dir, 'm.json'), JSON.stringify({
      key: { column: 'Ref' }, fields: { name: { column: 'Full Name' }, email: { column: 'Mail' }, 'custom.ref': { column: 'Ref' } },
    }));
    const mapped = memoryIo({ cwd: dir });
    await exportCommand({ dataDir, mapping: 'm.json', q: 'customer7', json: true }, mapped);
    expect(mapped.stdout.split('\r\n')[0]).toBe('Full Name,Mail,Ref');
    expect(mapped.stdout).toContain('Customer 7,customer7@example.com,');

    await expect(exportCommand({ dataDir, stage: 'nonsense' }, memoryIo())).rejects.toThrow(/unknown stage/);
    await expect(exportCommand({ dataDir, since: 'yesterday' }, memoryIo())).rejects.toThrow(/is not a time/);
    await expect(exportCommand({ dataDir, out: join(dir, 'no', 'such', 'dir.csv') }, memoryIo())).rejects.toThrow(/cannot write/);
  });

  it('exports a running node through its HTTP API', async () => {
    const node = await seeded(join(dir, 'live'), 'live');
    cleanup.push(() => node.close());
    const server = await createApiServer(node, { token: 'export-token-0123' });
    cleanup.push(() => server.close());
    const io = memoryIo();
    const summary = await exportCommand({ api: server.url, apiToken: 'export-token-0123', stage: 'lead', format: 'ndjson' }, io);
    const lines = io.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; stage: string });
    expect(lines).toHaveLength(24);
    expect(summary.records).toBe(24);
    expect(lines.every((l) => l.stage === 'lead')).toBe(true);
    const csv = memoryIo();
    await exportCommand({ api: server.url, apiToken: 'export-token-0123', includeDeleted: true }, csv);
    expect(parse(csv.stdout, { columns: true })).toHaveLength(25);
  });
});
