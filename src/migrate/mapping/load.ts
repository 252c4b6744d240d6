/**
 * Reading a mapping: its structure (schema.ts) and every cross-field check (check.ts)
 * run before any row is read, and all problems come back in ONE ERR_VALIDATION, each
 * with its path and, for a file, its line and column.
 */
import { readFile } from 'node:fs/promises';
import { CrmsyncError, type FieldIssue } from '../../index.js';
import { checkMapping, type MappingIssue } from './check.js';
import { formatPath, jsonLocator, type JsonLocation } from './json-location.js';
import { mappingSchema, type Mapping } from './schema.js';

/** Every problem of a raw mapping: structure and cross-field checks, without duplicates. */
export function mappingIssues(value: unknown): MappingIssue[] {
  const issues: MappingIssue[] = [];
  const result = mappingSchema.safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) issues.push({ path: [...path, key], message: 'unknown key' });
      else issues.push({ path, message: issue.message });
    }
  }
  for (const issue of checkMapping(value)) {
    if (!issues.some((i) => formatPath(i.path) === formatPath(issue.path) && i.message === issue.message)) issues.push(issue);
  }
  return issues;
}

/**
 * Validates a parsed mapping. `where` names it in the message; `locate` (for a file)
 * adds `file:line:column` to each problem.
 */
export function parseMapping(value: unknown, where = 'mapping', locate?: (path: MappingIssue['path']) => string): Mapping {
  const issues = mappingIssues(value);
  if (issues.length === 0) return mappingSchema.parse(value);
  const details: FieldIssue[] = issues.map((i) => ({ field: `${locate ? `${locate(i.path)} ` : ''}${formatPath(i.path)}`, message: i.message }));
  // One line per problem in the message itself, so every front end shows all of them.
  const lines = details.map((d) => `\n  ${d.field}: ${d.message}`).join('');
  throw new CrmsyncError('ERR_VALIDATION', `invalid ${where} (${issues.length} problem${issues.length === 1 ? '' : 's'}):${lines}`, { details });
}

/** Reads and validates a mapping file; problems name their line and column. */
export async function loadMapping(path: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `cannot read mapping file ${path}: ${(err as Error).message}`, { cause: err, details: [{ field: 'mapping', message: 'unreadable' }] });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `mapping file ${path} is not JSON: ${(err as Error).message}`, { cause: err, details: [{ field: 'mapping', message: 'not JSON' }] });
  }
  const locator = jsonLocator(text);
  const at = (p: MappingIssue['path']) => {
    const { line, column }: JsonLocation = locator(p);
    return `${path}:${line}:${column}`;
  };
  return parseMapping(json, `mapping file ${path}`, at);
}
