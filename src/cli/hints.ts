/**
 * Commands suggested in hints repeat the flags that chose the node (`-d`, `-c`, `--api`)
 * exactly as the user typed them, so the suggestion works when pasted: a hint that says
 * `crmsync status` to someone who typed `-d ./paris` would ask the wrong node.
 * Tokens are never repeated (they would end up in shell history and logs).
 */

/** The flags of a command that say which node or data directory it meant. */
export interface WhereFlags {
  dataDir?: string;
  config?: string;
  /** `--api URL`, or `true` for `--api` alone (the migrate commands). */
  api?: string | boolean;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A value as a shell word: unchanged when safe, else single-quoted. */
export function shellWord(value: string): string {
  return SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** ` -d DIR -c FILE` as given (empty when neither was): where a data directory command looks. */
export function dirArgs(flags: WhereFlags): string {
  return `${flags.dataDir === undefined ? '' : ` -d ${shellWord(flags.dataDir)}`}${flags.config === undefined ? '' : ` -c ${shellWord(flags.config)}`}`;
}

/** dirArgs plus ` --api URL` (or ` --api`): which node a client command talks to. */
export function nodeArgs(flags: WhereFlags): string {
  const api = flags.api === undefined || flags.api === false ? '' : flags.api === true ? ' --api' : ` --api ${shellWord(flags.api)}`;
  return `${dirArgs(flags)}${api}`;
}

/** `crmsync <words>` aimed at the node the user's command was aimed at. */
export function suggest(words: string, flags: WhereFlags): string {
  return `crmsync ${words}${nodeArgs(flags)}`;
}

/** A message for people on stderr (what happened, a hint); nothing with --json, whose output is the JSON alone. */
export function say(io: { err(text: string): void }, options: { json?: boolean }, text: string): void {
  if (!options.json) io.err(text);
}
