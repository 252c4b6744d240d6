/** Export through an import mapping run backwards (src/migrate/mapping/reverse.ts). */
import type { RowMapper } from './export.js';
import { reverseColumns, reverseMap } from './mapping/reverse.js';
import type { Mapping } from './mapping/schema.js';

/** The mapping's source columns and rows, so the export can be imported again with it. */
export function mappingMapper(mapping: Mapping): RowMapper {
  return { columns: reverseColumns(mapping), row: (view) => reverseMap(view, mapping) };
}
