/**
 * zod's answer for the values we see most, without zod's per-call work. Every record a
 * caller writes is parsed at the boundary (5 to 12 µs for a bench record through
 * `safeParse` in one process, about 8% of a bulk load's CPU profile), and every field
 * value a peer sends is checked against the view schema; almost all of them are plain
 * and valid.
 *
 * A schema gets a fast parse by registering one beside its definition (`fastParsed`): it
 * returns exactly what the schema's `safeParse` would return as `data`, or `DECLINE` when it
 * cannot vouch for the value, and then zod decides. So the schema stays the one authority:
 * a fast parse never rejects anything and never has to reproduce an error message, and a
 * field without one only means that objects holding it go through zod.
 * Objects (`strict`, no refinements), optional and nullable wrappers of registered schemas
 * are walked here (`fastParse`); test/crdt/fast-parse.test.ts holds every registered parse
 * and the input and patch schemas to `safeParse` on random and hostile values.
 */
import { z } from 'zod';

/** A fast parse's answer when zod must decide. */
export const DECLINE: unique symbol = Symbol('decline');
/** A schema's fast parse: its `safeParse` data, or DECLINE. */
export type FastParse = (value: unknown) => unknown;

const REGISTERED = new Map<z.ZodTypeAny, FastParse>();
const COMPILED = new WeakMap<z.ZodTypeAny, FastParse>();
const declineAll: FastParse = () => DECLINE;

/** Registers `parse` as `schema`'s fast parse; returns the schema, for use in its definition. */
export function fastParsed<T extends z.ZodTypeAny>(schema: T, parse: (value: unknown) => z.output<T> | typeof DECLINE): T {
  REGISTERED.set(schema, parse);
  return schema;
}

/** The registered schemas with their parses: for the test that holds them to zod. */
export function registeredFastParses(): [z.ZodTypeAny, FastParse][] {
  return [...REGISTERED];
}

/** `schema`'s `safeParse` data for `value`, or DECLINE when only zod can say. */
export function fastParse(schema: z.ZodTypeAny, value: unknown): unknown {
  let parse = COMPILED.get(schema);
  if (parse === undefined) {
    parse = compile(schema);
    COMPILED.set(schema, parse);
  }
  return parse(value);
}

/** Whether `value` is an object as JSON and object literals make them (Object's prototype, or none). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function compile(schema: z.ZodTypeAny): FastParse {
  const registered = REGISTERED.get(schema);
  if (registered !== undefined) return registered;
  if (hasChecks(schema)) return declineAll;
  if (schema instanceof z.ZodOptional) {
    // An optional key's absence is the object's business; a present undefined is rare: zod.
    const inner = compile(schema.unwrap() as z.ZodTypeAny);
    return (value) => (value === undefined ? DECLINE : inner(value));
  }
  if (schema instanceof z.ZodNullable) {
    const inner = compile(schema.unwrap() as z.ZodTypeAny);
    return (value) => (value === null ? null : inner(value));
  }
  if (schema instanceof z.ZodObject && schema._zod.def.catchall instanceof z.ZodNever) return compileStrictObject(schema);
  return declineAll;
}

/** Refinements, transforms or checks zod runs on the schema itself: not walked here. */
function hasChecks(schema: z.ZodTypeAny): boolean {
  return (schema._zod.def.checks?.length ?? 0) > 0;
}

/**
 * A strict object: every own key must be one of the shape's (else zod reports the
 * unknown one), and the output has the shape's keys in the shape's order, as zod builds it.
 */
function compileStrictObject(schema: z.ZodObject): FastParse {
  const fields = Object.entries(schema.shape as Record<string, z.ZodTypeAny>).map(([key, field]) => ({
    key, parse: compile(field), optional: field instanceof z.ZodOptional,
  }));
  const known: ReadonlySet<string> = new Set(fields.map((f) => f.key));
  if (known.has('__proto__')) return declineAll; // zod leaves it out of the output: not worth copying
  return (value) => {
    if (!isPlainObject(value)) return DECLINE;
    // zod's own tests: an unknown key is one `for…in` finds, a field is there when `in` says so.
    for (const key in value) if (!known.has(key)) return DECLINE;
    const out: Record<string, unknown> = {};
    for (const field of fields) {
      if (!(field.key in value)) {
        if (!field.optional) return DECLINE;
        continue;
      }
      const parsed = field.parse(value[field.key]);
      if (parsed === DECLINE) return DECLINE;
      out[field.key] = parsed;
    }
    return out;
  };
}
