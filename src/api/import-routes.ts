/**
 * The bulk routes `crmsync import --api` writes through (docs/http-api.md, "Import"):
 * one batch of records plus the importer's progress state as ONE atomic, durable
 * commit (node.records.upsertMany), and a read of that state to resume from.
 * Items are validated one by one by the engine, so one bad row is reported in its
 * result instead of failing the batch.
 */
import { z } from 'zod';
import type { CrmNode, RecordPatchLike } from '../index.js';
import { defineRoute, json, type ApiRoute } from './route.js';
import { sinkResult } from '../migrate/import/sink.js';
import { IMPORT_KEY } from '../migrate/import/identity.js';
import { MAX_RECORD_ID_LENGTH } from '../types.js';
import { responses } from './schemas.js';

/** Most items in one batch. Bounds the size of one atomic commit (the importer sends 500). */
export const MAX_IMPORT_BATCH_ITEMS = 1000;

/** State keys the import routes may read and write: the importers' own, nothing else. */
const stateKey = z.string().regex(IMPORT_KEY, 'must be import:<source name>');

const batchBody = z.strictObject({
  items: z.array(z.strictObject({ id: z.string().min(1).max(MAX_RECORD_ID_LENGTH), fields: z.record(z.string(), z.unknown()) })).max(MAX_IMPORT_BATCH_ITEMS),
  /** Recorded as the author of every change (`import:<source>`). */
  author: z.string().regex(IMPORT_KEY, 'must be import:<source name>'),
  /** Importer progress, committed in the same batch as the items. */
  state: z.record(stateKey, z.unknown()).optional(),
});

const itemResult = z.strictObject({
  id: z.string(),
  status: z.enum(['created', 'updated', 'unchanged', 'rejected']),
  error: responses.error.shape.error.optional(),
});

const stateParams = z.strictObject({ key: stateKey });

/** The import routes. */
export function importRoutes(options: { node: CrmNode }): ApiRoute[] {
  const { node } = options;
  return [
    defineRoute({
      method: 'POST', url: '/v1/import/batch', summary: 'Create or update many customers and the importer state in one atomic commit', tag: 'import',
      body: batchBody,
      responses: { 200: { description: 'one result per item, in order; rejected items carry the validation error', schema: z.strictObject({ results: z.array(itemResult) }) } },
      async handle({ body }) {
        const results = await node.records.upsertMany(
          body.items.map((item) => ({ id: item.id, fields: item.fields as RecordPatchLike })),
          { author: body.author, ...(body.state ? { state: body.state } : {}) },
        );
        return json(200, { results: results.map(sinkResult) });
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/import/state/:key', summary: 'The stored state of an importer (its resume point and watermark)', tag: 'import',
      params: stateParams,
      responses: { 200: { description: 'the value, null when none was stored', schema: z.strictObject({ value: z.unknown() }) } },
      handle: async ({ params }) => json(200, { value: (await node.getState(params.key)) ?? null }),
    }),
  ];
}
