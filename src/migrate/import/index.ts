/** The import side of src/migrate: what the CLI, the API and the export side use. */
export { runImport, IMPORT_BATCH_ROWS, IMPORT_BATCH_BYTES, type ImportOptions, type ImportReport } from './run.js';
export { nodeSink, httpSink, type ImportSink, type SinkItem, type SinkResult } from './sink.js';
export { importRecordId, importAuthor, parseSourceName, IMPORT_ID_PREFIX } from './identity.js';
export { stateKey, parseState, type ImportState } from './state.js';
export { openRejects, memoryRejects, type Reject, type RejectSink } from './rejects.js';
export { streamProgress, silentProgress, progressLine, type ProgressReporter } from './progress.js';
export { predict } from './predict.js';
export { openSource, type OpenSourceOptions } from '../sources/open.js';
export { FORMATS, formatOf, type Format, type ImportSource, type SourceRow } from '../sources/source.js';
export { mappingSchema, type Mapping, type MappingInput } from '../mapping/schema.js';
export { loadMapping, parseMapping, mappingIssues } from '../mapping/load.js';
export { inferMapping } from '../mapping/infer.js';
export { reverseMap, reverseColumns, type ExportCell } from '../mapping/reverse.js';
export { mapRow } from '../mapping/apply.js';
