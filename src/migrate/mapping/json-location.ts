/**
 * Where a value sits in a JSON text (line and column), so a problem in a mapping file
 * can be reported as `mapping.json:12:7` next to its path. A small scanner over text
 * JSON.parse has already accepted; it records the start of every value by its path.
 */

/** 1-based line and column. */
export interface JsonLocation {
  line: number;
  column: number;
}

/** A path's key in the table: JSON of the path array (keys may contain dots). */
const keyOf = (path: readonly (string | number)[]) => JSON.stringify(path);

/**
 * Returns a function giving the location of a path's value; for a path that does not
 * exist (a missing key), the location of its nearest existing ancestor.
 */
export function jsonLocator(text: string): (path: readonly (string | number)[]) => JsonLocation {
  const offsets = new Map<string, number>();
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: (string | number)[]): void => {
    space();
    offsets.set(keyOf(path), i);
    const ch = text[i];
    if (ch === '{') {
      i++;
      space();
      while (i < text.length && text[i] !== '}') {
        const key = string();
        space();
        i++; // colon
        value([...path, key]);
        space();
        if (text[i] === ',') i++;
        space();
      }
      i++;
    } else if (ch === '[') {
      i++;
      space();
      for (let n = 0; i < text.length && text[i] !== ']'; n++) {
        value([...path, n]);
        space();
        if (text[i] === ',') i++;
        space();
      }
      i++;
    } else if (ch === '"') {
      string();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
    }
  };
  value([]);
  const lineStarts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') lineStarts.push(k + 1);
  return (path) => {
    let offset: number | undefined;
    for (let n = path.length; n >= 0 && offset === undefined; n--) offset = offsets.get(keyOf(path.slice(0, n)));
    const at = offset ?? 0;
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= at) line++;
    return { line: line + 1, column: at - lineStarts[line]! + 1 };
  };
}

/** A path for people: fields["address.city"].transforms[0]. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, n) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${n === 0 ? '' : '.'}${p}` : `[${JSON.stringify(p)}]`)).join('');
}
