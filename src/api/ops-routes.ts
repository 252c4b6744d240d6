/**
 * Operations routes: verification of the stored records against their documents
 * (node.verify). It reads every record, so it is a POST that answers when done.
 */
import { z } from 'zod';
import type { CrmNode } from '../index.js';
import { defineRoute, json, type ApiRoute } from './route.js';

const report = z.strictObject({
  checked: z.number().int(),
  problems: z.number().int(),
  repaired: z.number().int(),
  details: z.array(z.strictObject({ id: z.string(), problem: z.enum(['heads', 'view', 'document']), detail: z.string() })),
});

/** The operations routes. */
export function opsRoutes(options: { node: CrmNode }): ApiRoute[] {
  const { node } = options;
  return [
    defineRoute({
      method: 'POST', url: '/v1/verify', summary: 'Check every record against its document; optionally repair stored heads and views', tag: 'operations',
      body: z.strictObject({ repair: z.boolean().optional() }),
      responses: { 200: { description: 'what was checked, found and repaired (the first 100 problems listed)', schema: report } },
      handle: async ({ body }) => json(200, await node.verify({ repair: body.repair ?? false })),
    }),
  ];
}
