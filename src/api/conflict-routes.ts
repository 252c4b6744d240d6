/**
 * The conflict inbox routes: the records holding concurrent values (a page at a time,
 * from stored views), and resolving one field by keeping one of its values. A resolve
 * is an ordinary local write, so it is durable, synced and in the record's history.
 */
import type { CrmNode } from '../index.js';
import { defineRoute, json, type ApiRoute } from './route.js';
import { conflictFieldParams, conflictInboxQuery, resolveBody, responses } from './schemas.js';

/** The conflict inbox routes. */
export function conflictRoutes(options: { node: CrmNode }): ApiRoute[] {
  const { node } = options;
  return [
    defineRoute({
      method: 'GET', url: '/v1/conflicts', summary: 'The conflict inbox: customers with open conflicts (filters, cursor paging)', tag: 'conflicts',
      query: conflictInboxQuery,
      responses: { 200: { description: 'one page in id order, deleted customers included; pass `next` as `cursor` for the next (null at the end)', schema: responses.conflictInbox } },
      async handle({ query }) {
        const page = await node.records.conflictInbox(query);
        return json(200, { records: page.items, next: page.next ?? null });
      },
    }),
    defineRoute({
      method: 'POST', url: '/v1/customers/:id/conflicts/:field/resolve', summary: 'Resolve a conflict: keep one concurrent value (or the one a node wrote) with a change that supersedes them all', tag: 'conflicts',
      params: conflictFieldParams, body: resolveBody,
      responses: {
        200: { description: 'the customer after the resolving change, the field and the value kept', schema: responses.resolved },
        400: { description: 'no such field, or `keep` / `keepNode` names none of the concurrent values (ERR_VALIDATION; the message lists them)', schema: responses.error },
        404: { description: 'no customer with that id (ERR_NOT_FOUND)', schema: responses.error },
        409: { description: 'the field holds no concurrent values, or was resolved meanwhile (ERR_NOT_CONFLICTED)', schema: responses.error },
      },
      async handle({ params, body }) {
        const choice = body.keepNode === undefined ? { keep: body.keep! } : { keepNode: body.keepNode };
        return json(200, await node.records.resolveConflict(params.id, params.field, choice));
      },
    }),
  ];
}
