/** Test helper: the ERR_* code `fn` throws (a CrmsyncError), undefined when it returns; any other error is rethrown. */
import { CrmsyncError } from '../../src/errors.js';

export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof CrmsyncError)) throw err;
    return err.code;
  }
}
