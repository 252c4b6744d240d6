/**
 * Trust routes: the cluster's trust list as this node sees it, and (on an
 * administrator) granting a key, revoking a member and issuing invitation codes. A node
 * that is not an administrator answers the changes with 403 ERR_UNAUTHORIZED: the
 * caller's API token was fine (that would be 401), the node may not do it.
 */
import { z } from 'zod';
import { CrmsyncError, FINGERPRINT_PREFIX, ROLES, hasCode, type CrmNode } from '../index.js';
import { errorBody } from './http-errors.js';
import { defineRoute, json, type ApiRoute, type RouteResult } from './route.js';
import { responses as common } from './schemas.js';
import { NODE_ID_PATTERN, NODE_ID_RULE } from '../types.js';

/** Shortest invitation lifetime (seconds): long enough to carry the code to the new machine. */
export const MIN_INVITATION_TTL_S = 60;
/** Longest invitation lifetime (seconds, 30 days): a code is a credential, so it must not live forever. */
export const MAX_INVITATION_TTL_S = 30 * 24 * 3600;
/** Invitation lifetime when none is given (seconds). */
export const DEFAULT_INVITATION_TTL_S = 24 * 3600;
/** Most URLs an invitation carries (each is dialed by the new node). */
export const MAX_INVITATION_URLS = 8;

const nodeId = z.string().regex(NODE_ID_PATTERN, `must be ${NODE_ID_RULE}`);
const fingerprint = z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/, `must be a key fingerprint: ${FINGERPRINT_PREFIX} followed by 43 base64url characters`);
const scopeList = z.array(z.string().min(1).max(100)).min(1).max(100);
const scope = z.strictObject({ territories: scopeList.optional(), owners: scopeList.optional() })
  .describe('what the member may hold; absent: every record');
const role = z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` });
const peerUrl = z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL' }).max(2048);

const member = z.strictObject({
  node: z.string(), key: z.string(), role: z.enum(ROLES), admin: z.boolean(), scope: scope.optional(),
  grantedBy: z.string().describe('fingerprint of the administrator whose statement made this entry'), grantedAt: z.number(),
});
const trustView = z.strictObject({
  cluster: z.string(),
  founder: z.string(),
  self: z.strictObject({ node: z.string(), key: z.string(), role: z.enum(ROLES).nullable(), admin: z.boolean() }),
  members: z.array(member),
  revoked: z.array(z.strictObject({ node: z.string().nullable(), key: z.string(), upTo: z.number() })),
});
const revoked = z.strictObject({ revoked: z.strictObject({ node: z.string(), key: z.string(), upTo: z.number() }) });
const invitation = z.strictObject({
  code: z.string().describe('the invitation code: crmsync init --join CODE on the new machine'),
  node: z.string(), role: z.enum(ROLES), expires: z.number().describe('ms since the epoch'), urls: z.array(z.string()),
});

const forbidden = { description: 'this node is not an administrator of its cluster (ERR_UNAUTHORIZED)', schema: common.error };

/** Runs an administrator's operation; a node that is not one answers 403. */
export async function asAdmin(run: () => Promise<RouteResult>): Promise<RouteResult> {
  try {
    return await run();
  } catch (err) {
    if (hasCode(err, 'ERR_UNAUTHORIZED')) return json(403, errorBody('ERR_UNAUTHORIZED', err.message));
    throw err;
  }
}

/** The URLs a new node dials to redeem its invitation: the request's, else this node's advertised peer URL. */
function invitationUrls(node: CrmNode, given: string[] | undefined, advertise: string | undefined): string[] {
  if (given && given.length > 0) return given;
  if (advertise !== undefined) return [advertise];
  const own = node.url === null ? undefined : new URL(node.url);
  if (own && !['0.0.0.0', '[::]'].includes(own.hostname)) return [node.url!];
  const why = own ? `it listens on ${own.host} (every interface), which names no address another machine can dial` : 'it does not listen for peers';
  throw new CrmsyncError('ERR_VALIDATION', `cannot tell where a new node reaches this one: ${why}; pass urls (crmsync trust invite --url wss://HOST:PORT), or set advertise in this node's configuration`, {
    details: [{ field: 'urls', message: 'needed: this node has no advertised peer URL' }],
  });
}

/** The trust routes. */
export function trustRoutes(options: { node: CrmNode; advertise?: string | undefined }): ApiRoute[] {
  const { node } = options;
  return [
    defineRoute({
      method: 'GET', url: '/v1/trust', summary: "The cluster's trust list: members, roles, revoked keys, this node", tag: 'trust',
      responses: { 200: { description: 'the trust list as this node holds it', schema: trustView } },
      handle: async () => json(200, node.trust.view()),
    }),
    defineRoute({
      method: 'POST', url: '/v1/trust/grants', summary: 'Grant a key a node id and role (administrators only)', tag: 'trust',
      body: z.strictObject({ key: fingerprint, node: nodeId, role, admin: z.boolean().optional(), scope: scope.optional() }),
      responses: {
        201: { description: 'the member as the trust list now has it', schema: z.strictObject({ member }), headers: { Location: '/v1/trust' } },
        403: forbidden,
        409: { description: 'the node id or the key is bound to another, or the key was revoked (ERR_EXISTS)', schema: common.error },
      },
      // Members have no resource of their own: the list that holds the new one is where it lives.
      handle: ({ body }) => asAdmin(async () => json(201, { member: await node.trust.grant(body) }, { location: '/v1/trust' })),
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/trust/members/:member', summary: 'Revoke a member, by node id or key fingerprint (administrators only)', tag: 'trust',
      params: z.strictObject({ member: z.union([nodeId, fingerprint], { error: 'must be a node id or a key fingerprint (ed25519:…)' }) }),
      responses: {
        200: { description: 'the revoked member and how far its history stays valid', schema: revoked },
        403: forbidden,
        404: { description: 'no such member (ERR_NOT_FOUND)', schema: common.error },
      },
      handle: ({ params }) => asAdmin(async () => json(200, { revoked: await node.trust.revoke(params.member) })),
    }),
    defineRoute({
      method: 'POST', url: '/v1/trust/invitations', summary: 'Issue a one-time invitation code for a new node (administrators only)', tag: 'trust',
      body: z.strictObject({
        node: nodeId, role, scope: scope.optional(),
        ttlSeconds: z.number().int().min(MIN_INVITATION_TTL_S).max(MAX_INVITATION_TTL_S).optional()
          .describe(`how long the code is valid (default ${DEFAULT_INVITATION_TTL_S})`),
        urls: z.array(peerUrl).min(1).max(MAX_INVITATION_URLS).optional()
          .describe("peer URLs the new node dials to redeem it; default: this node's advertised URL"),
      }),
      responses: {
        201: { description: 'the code to hand to the new node\'s operator (the new member will be listed in /v1/trust)', schema: invitation, headers: { Location: '/v1/trust' } },
        403: forbidden,
        409: { description: 'the node id is already taken in the cluster (ERR_EXISTS)', schema: common.error },
      },
      handle: ({ body }) => asAdmin(async () => {
        // Checked first: a node that may not invite hears that, not that it lacks an address.
        if (!node.trust.view().self.admin) throw new CrmsyncError('ERR_UNAUTHORIZED', 'this node is not an administrator of its cluster; run this on an administrator node');
        const urls = invitationUrls(node, body.urls, options.advertise);
        const issued = await node.trust.invite({
          node: body.node, role: body.role, ...(body.scope ? { scope: body.scope } : {}), ttlMs: (body.ttlSeconds ?? DEFAULT_INVITATION_TTL_S) * 1000, urls,
        });
        return json(201, { ...issued, urls }, { location: '/v1/trust' });
      }),
    }),
  ];
}
