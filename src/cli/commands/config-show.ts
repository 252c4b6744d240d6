/** `crmsync config show`: the effective configuration and where each value came from. */
import { displayConfig, loadConfig, type ConfigFlags, type ValueSource } from '../../config/load.js';
import { json, table } from '../format.js';
import type { Io } from '../io.js';

const describe = (s: ValueSource): string => (s.where ? `${s.kind} (${s.where})` : s.kind);

/** Prints every key, its value (secrets masked) and its source. Needs no running node. */
export async function configShow(options: ConfigFlags & { json?: boolean }, io: Io): Promise<void> {
  const loaded = await loadConfig({ flags: options, env: io.env, cwd: io.cwd, warn: io.err });
  const shown = displayConfig(loaded);
  if (options.json) {
    io.out(json({ configFile: loaded.configFile, configFileExists: loaded.configFileExists, values: shown }));
    return;
  }
  const rows = Object.entries(shown).map(([key, { value, source }]) => [
    key, Array.isArray(value) ? value.join(', ') || '[]' : value === null ? '(unset)' : String(value), describe(source),
  ]);
  io.out(`config file: ${loaded.configFile}${loaded.configFileExists ? '' : ' (does not exist)'}`);
  io.out(table(['key', 'value', 'source'], rows));
}
