/**
 * What one HTTP route is: method, path, documentation, zod schemas for its inputs and
 * outputs, and a handler that receives validated input. The route table (routes.ts)
 * is a list of these; server.ts registers it with fastify and openapi.ts documents it,
 * so the two cannot disagree. Handlers know nothing about fastify.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

/** Methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One documented response of a route. */
export interface ResponseDoc {
  description: string;
  /** Body schema (JSON unless `contentType` says otherwise). */
  schema?: z.ZodType;
  contentType?: string;
  /** Response headers worth documenting: a fixed value, or a description of a varying one. */
  headers?: Record<string, string | { description: string }>;
}

/** What a handler answers: a body to serialise, or a stream that takes over the socket. */
export type RouteResult =
  | { status: number; body: unknown; headers?: Record<string, string>; contentType?: string }
  | { stream: (req: IncomingMessage, res: ServerResponse) => void };

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Validated input of a handler. */
export interface RouteInput<P, Q, B, H> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  headers: Parsed<H>;
}

/** Header schemas list headers by their canonical name; lookups are case-insensitive. */
export type HeaderSchema = z.ZodObject<Record<string, z.ZodType>>;

/** A route definition with typed handler input. */
export interface RouteDef<P, Q, B, H> {
  method: HttpMethod;
  /** fastify path syntax (`/v1/customers/:id`). */
  url: string;
  summary: string;
  /** Groups routes in the OpenAPI document. */
  tag: string;
  /** Served without a bearer token (health, readiness, the OpenAPI document). */
  public?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  headers?: H;
  /** Success responses (and route-specific errors such as 404/409). */
  responses: Record<number, ResponseDoc>;
  handle(input: RouteInput<P, Q, B, H>): Promise<RouteResult>;
}

/** A route with its input types erased, as the table holds it. */
export interface ApiRoute extends Omit<RouteDef<unknown, unknown, unknown, unknown>, 'params' | 'query' | 'body' | 'headers' | 'handle'> {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  headers?: HeaderSchema;
  handle(input: { params: unknown; query: unknown; body: unknown; headers: unknown }): Promise<RouteResult>;
}

/** Declares a route; infers the handler's input types from the schemas. */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  H extends HeaderSchema | undefined = undefined,
>(def: RouteDef<P, Q, B, H>): ApiRoute {
  return def as unknown as ApiRoute;
}

/** A JSON response. */
export function json(status: number, body: unknown, headers?: Record<string, string>): RouteResult {
  return headers === undefined ? { status, body } : { status, body, headers };
}

/** The routes' path patterns as matchers: which methods a concrete path has, which parameter is too long. */
export class RouteMatcher {
  readonly #patterns: Array<{ method: string; segments: string[] }>;

  constructor(routes: readonly Pick<ApiRoute, 'method' | 'url'>[]) {
    this.#patterns = routes.map((r) => ({ method: r.method, segments: r.url.split('/') }));
  }

  /** Methods of the routes whose pattern matches `path` (a path without query string). */
  methodsFor(path: string): string[] {
    const segments = path.split('/');
    return this.#patterns.filter((p) => matches(p.segments, segments)).map((p) => p.method);
  }

  /** The name of the first parameter longer than `max` in a route that `path` would match but for that. */
  tooLongParam(method: string, path: string, max: number): string | undefined {
    const segments = path.split('/');
    for (const p of this.#patterns) {
      if (p.method !== method || !matches(p.segments, segments)) continue;
      const index = p.segments.findIndex((s, i) => s.startsWith(':') && segments[i]!.length > max);
      if (index >= 0) return p.segments[index]!.slice(1);
    }
    return undefined;
  }
}

function matches(pattern: string[], segments: string[]): boolean {
  return pattern.length === segments.length && pattern.every((p, i) => (p.startsWith(':') ? segments[i] !== '' : p === segments[i]));
}
