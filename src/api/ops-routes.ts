/**
 * Operations routes: verification of the stored records against their documents
 * (node.verify), and against a connected peer's holdings (node.verifyPeer, anti-entropy).
 * Both read every record, so they are POSTs that answer when done.
 */
import { z } from 'zod';
import type { CrmNode } from '../index.js';
import { defineRoute, json, type ApiRoute } from './route.js';
import { nodeIdText, responses } from './schemas.js';

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
    defineRoute({
      method: 'POST', url: '/v1/verify/peer/:node', tag: 'operations',
      summary: 'Compare this node\'s holdings with a connected peer (Merkle digests, anti-entropy) and repair what differs through sync',
      params: z.strictObject({ node: nodeIdText }),
      responses: {
        200: { description: 'round trips, records compared, the ids that differed, how many were repaired and how many remain', schema: responses.antiEntropy },
        404: { description: 'no open session with that peer (ERR_NOT_FOUND)' },
        503: { description: 'the peer refused the exchange for now: busy or over its rate limit (ERR_BUSY)' },
        504: { description: 'the peer did not answer in time (ERR_TIMEOUT)' },
      },
      handle: async ({ params }) => json(200, await node.verifyPeer(params.node)),
    }),
  ];
}
