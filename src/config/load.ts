/**
 * Resolves the effective configuration from defaults < config file < environment <
 * flags. Each source is validated on its own, so an error names the source and the key
 * ("environment variable CRMSYNC_LISTEN (key listen): must be host:port …").
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { CrmsyncError, type FieldIssue } from '../errors.js';
import { dataDirPaths, ensurePrivate, readIfExists } from './files.js';
import { KEYS, KEY_NAMES, type Config } from './keys.js';
import { maskSecret, readTokenFile } from './token.js';

/** Where a configuration value came from. */
export interface ValueSource {
  kind: 'default' | 'file' | 'env' | 'flag' | 'token-file';
  /** The file path, the variable or the flag. */
  where?: string;
}

/** Config values as given on the command line (strings, as commander parses them). */
export type ConfigFlags = { [K in keyof Config]?: K extends 'peers' ? string | string[] : K extends 'insecure' ? boolean | string : string } & {
  /** `--config FILE`: a config file other than `<dataDir>/crmsync.json`. */
  config?: string;
};

/** What loadConfig needs. */
export interface LoadOptions {
  flags?: ConfigFlags;
  env?: Record<string, string | undefined>;
  /** Base of relative paths given by flags and env (default: process.cwd()). */
  cwd?: string;
  /** Receives warnings (a token file readable by others). */
  warn?: (message: string) => void;
  /** Read `<dataDir>/api-token` when no token is configured (default true). */
  readToken?: boolean;
  /** Do not read the config file, only note whether it exists (`init` replaces it). */
  skipFile?: boolean;
}

/** The effective configuration and where each value came from. */
export interface LoadedConfig {
  config: Config;
  sources: Record<keyof Config, ValueSource>;
  /** The config file consulted (it may not exist). */
  configFile: string;
  configFileExists: boolean;
}

/** Environment variable naming a config file (like `--config`). */
export const CONFIG_ENV = 'CRMSYNC_CONFIG';

type Layer = Partial<Record<keyof Config, unknown>>;

function describe(source: ValueSource, key: keyof Config, raw: unknown): string {
  const shown = KEYS[key].secret ? '(hidden)' : JSON.stringify(raw);
  switch (source.kind) {
    case 'flag': return `flag ${source.where} ${shown} (key "${key}")`;
    case 'env': return `environment variable ${source.where}=${shown} (key "${key}")`;
    case 'file': return `config file ${source.where}, key "${key}" = ${shown}`;
    default: return `${source.kind} value of "${key}"`;
  }
}

function check(layer: Layer, source: ValueSource, issues: FieldIssue[], where: (key: keyof Config) => string): Layer {
  const valid: Layer = {};
  for (const key of KEY_NAMES) {
    const raw = layer[key];
    if (raw === undefined) continue;
    const result = KEYS[key].schema.safeParse(raw);
    const located = { ...source, where: where(key) };
    if (result.success) valid[key] = result.data;
    else issues.push({ field: `${key} (${source.kind} ${located.where})`, message: `${describe(located, key, raw)}: ${result.error.issues.map((i) => i.message).join('; ')}` });
  }
  return valid;
}

function fromStrings(values: Partial<Record<keyof Config, string | string[] | boolean | undefined>>): Layer {
  const layer: Layer = {};
  for (const key of KEY_NAMES) {
    const value = values[key];
    if (value === undefined) continue;
    // A boolean flag (--insecure) arrives as a boolean already.
    if (typeof value === 'boolean') {
      layer[key] = value;
      continue;
    }
    const text = Array.isArray(value) ? value.join(',') : value;
    layer[key] = KEYS[key].fromString?.(text) ?? text;
  }
  return layer;
}

function envLayer(env: Record<string, string | undefined>): Partial<Record<keyof Config, string>> {
  const raw: Partial<Record<keyof Config, string>> = {};
  for (const key of KEY_NAMES) {
    const value = env[KEYS[key].env];
    // An empty variable counts as unset, as shells make `VAR= cmd` easy to type by mistake.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  return raw;
}

async function readConfigFile(path: string, issues: FieldIssue[], warn: (m: string) => void): Promise<Layer | undefined> {
  const text = await readIfExists(path);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    issues.push({ field: `(file ${path})`, message: `config file ${path} is not valid JSON: ${(err as Error).message}` });
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    issues.push({ field: `(file ${path})`, message: `config file ${path} must hold a JSON object such as {"nodeId": "berlin"}` });
    return {};
  }
  const unknown = Object.keys(parsed).filter((k) => !(KEY_NAMES as string[]).includes(k));
  for (const key of unknown) {
    issues.push({ field: `${key} (file ${path})`, message: `config file ${path}: unknown key "${key}"; valid keys are ${KEY_NAMES.join(', ')}` });
  }
  const layer = parsed as Layer;
  if (KEY_NAMES.some((k) => KEYS[k].secret && layer[k] !== undefined)) await ensurePrivate(path, warn);
  return layer;
}

function fail(issues: FieldIssue[]): never {
  const lines = issues.map((i) => `  - ${i.message}`).join('\n');
  throw new CrmsyncError('ERR_VALIDATION', `invalid configuration:\n${lines}`, { details: issues });
}

/** Loads, validates and merges the configuration. Throws ERR_VALIDATION naming every bad value. */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? (() => {});
  const issues: FieldIssue[] = [];
  const flagValues = options.flags ?? {};
  const flags = check(fromStrings(flagValues), { kind: 'flag' }, issues, (k) => KEYS[k].flag);
  const environment = check(fromStrings(envLayer(env)), { kind: 'env' }, issues, (k) => KEYS[k].env);

  const explicitFile = flagValues.config ?? (env[CONFIG_ENV] || undefined);
  const earlyDataDir = resolve(cwd, String(flags.dataDir ?? environment.dataDir ?? KEYS.dataDir.default));
  const configFile = explicitFile === undefined ? dataDirPaths(earlyDataDir).config : resolve(cwd, explicitFile);
  const rawFile = options.skipFile ? undefined : await readConfigFile(configFile, issues, warn);
  const configFileExists = options.skipFile ? (await readIfExists(configFile)) !== undefined : rawFile !== undefined;
  if (!configFileExists && explicitFile !== undefined && !options.skipFile) {
    issues.push({ field: 'config', message: `config file ${configFile} does not exist (given by ${flagValues.config === undefined ? CONFIG_ENV : '--config'})` });
  }
  const file = check(rawFile ?? {}, { kind: 'file' }, issues, () => configFile);
  if (issues.length > 0) fail(issues);

  const config = {} as Record<keyof Config, unknown>;
  const sources = {} as Record<keyof Config, ValueSource>;
  for (const key of KEY_NAMES) {
    const [value, source]: [unknown, ValueSource] =
      flags[key] !== undefined ? [flags[key], { kind: 'flag', where: KEYS[key].flag }]
        : environment[key] !== undefined ? [environment[key], { kind: 'env', where: KEYS[key].env }]
          : file[key] !== undefined ? [file[key], { kind: 'file', where: configFile }]
            : [KEYS[key].default, { kind: 'default' }];
    config[key] = value;
    sources[key] = source;
  }
  // Paths named inside a config file (the data directory, TLS files) are relative to that file.
  for (const key of KEY_NAMES) {
    if (key !== 'dataDir' && !KEYS[key].path) continue;
    const value = config[key];
    if (typeof value !== 'string' || isAbsolute(value)) continue;
    config[key] = resolve(sources[key].kind === 'file' ? dirname(configFile) : cwd, value);
  }
  const result = config as unknown as Config;
  if (result.apiToken === undefined && options.readToken !== false) {
    const tokenFile = dataDirPaths(result.dataDir).apiToken;
    result.apiToken = await readTokenFile(tokenFile, warn);
    if (result.apiToken !== undefined) sources.apiToken = { kind: 'token-file', where: tokenFile };
  }
  return { config: result, sources, configFile, configFileExists };
}

/** The effective configuration with secrets masked, for display. */
export function displayConfig(loaded: LoadedConfig): Record<keyof Config, { value: unknown; source: ValueSource }> {
  const shown = {} as Record<keyof Config, { value: unknown; source: ValueSource }>;
  for (const key of KEY_NAMES) {
    const value = loaded.config[key];
    shown[key] = { value: KEYS[key].secret && typeof value === 'string' ? maskSecret(value) : value ?? null, source: loaded.sources[key] };
  }
  return shown;
}
