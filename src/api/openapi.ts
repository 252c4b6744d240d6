/**
 * The OpenAPI 3.1 document, generated from the route table (routes.ts) with zod's
 * `z.toJSONSchema()`: every registered route is documented, with the schemas it
 * actually validates with, because both come from the same definitions.
 */
import { z } from 'zod';
import type { ApiRoute, ResponseDoc } from './route.js';
import { MAX_BODY_BYTES, responses as bodies } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** The parts of an OpenAPI document this module produces. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/** JSON Schema of a zod schema, without the `$schema` key OpenAPI does not need. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

/** `/v1/customers/:id` → `/v1/customers/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** `GET /v1/customers/:id` → `getV1CustomersId`. */
function operationId(route: ApiRoute): string {
  const words = route.url.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1));
  return route.method.toLowerCase() + words.join('');
}

function parameters(route: ApiRoute): unknown[] {
  const out: unknown[] = [];
  const add = (where: 'path' | 'query' | 'header', schema: z.ZodType | undefined) => {
    if (!schema) return;
    const object = jsonSchema(schema, 'input');
    const required = new Set((object.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries((object.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = property;
      out.push({
        name, in: where, required: where === 'path' || required.has(name), schema: rest,
        ...(description === undefined ? {} : { description }),
      });
    }
  };
  add('path', route.params);
  add('query', route.query);
  add('header', route.headers);
  return out;
}

function response(doc: ResponseDoc): unknown {
  const headers = doc.headers && Object.fromEntries(
    Object.entries(doc.headers).map(([name, value]) => [name, typeof value === 'string'
      ? { schema: { type: 'string', const: value } }
      : { description: value.description, schema: { type: 'string' } }]),
  );
  const base = { description: doc.description, ...(headers ? { headers } : {}) };
  if (!doc.schema && !doc.contentType) return { ...base, content: { 'application/json': { schema: { type: 'object' } } } };
  const contentType = doc.contentType ?? 'application/json';
  if (contentType === 'text/event-stream') {
    return { ...base, content: { [contentType]: { schema: { type: 'string' }, 'x-event-data': doc.schema && jsonSchema(doc.schema, 'output') } } };
  }
  const schema = doc.schema === bodies.error ? ERROR_REF : doc.schema ? jsonSchema(doc.schema, 'output') : { type: 'string' };
  return { ...base, content: { [contentType]: { schema } } };
}

function operation(route: ApiRoute): Record<string, unknown> {
  const documented: Record<string, unknown> = {};
  for (const [status, doc] of Object.entries(route.responses)) documented[status] = response(doc);
  const error = (description: string) => ({ description, content: { 'application/json': { schema: ERROR_REF } } });
  const hasInput = route.params || route.query || route.body || route.headers;
  if (hasInput && !documented[400]) documented[400] = error('invalid input (ERR_VALIDATION, with field details)');
  if (!route.public) documented[401] = error('missing or wrong bearer token (ERR_UNAUTHORIZED)');
  if (route.body) {
    documented[413] ??= error(`the body is larger than ${MAX_BODY_BYTES} bytes (ERR_VALIDATION)`);
    documented[415] ??= error('the body is not application/json (ERR_VALIDATION)');
  }
  documented[503] ??= error('the node is closed or the server is shutting down (ERR_CLOSED)');
  documented['500'] = error('unexpected failure (ERR_INTERNAL, ERR_STORAGE, ...)');
  return {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.tag],
    security: route.public ? [] : [{ bearer: [] }],
    parameters: parameters(route),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } } : {}),
    responses: documented,
  };
}

/** Builds the document for the given routes. */
export function buildOpenApiDocument(routes: readonly ApiRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = (paths[openApiPath(route.url)] ??= {});
    path[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'crmsync local API',
      version: '1',
      description: 'The local HTTP API of a crmsync node (docs/http-api.md). Errors are {"error": {"code", "message", "details"?}}.',
    },
    paths,
    components: {
      schemas: { Error: jsonSchema(bodies.error, 'output') },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the API token `crmsync init` wrote' } },
    },
  };
}
