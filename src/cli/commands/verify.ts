/**
 * `crmsync verify`: loads every record's document and checks the stored heads and view
 * (what reads are served from) against it; `--repair` rewrites what differs. Works on a
 * stopped node's data directory or, with --api, on the running node.
 */
import type { VerifyReport } from '../../index.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues, table } from '../format.js';
import { suggest } from '../hints.js';
import type { Io } from '../io.js';
import { withTarget, type TargetFlags } from './migrate-target.js';

/** Flags of `crmsync verify`. */
export type VerifyOptions = TargetFlags & { repair?: boolean; json?: boolean };

/** Runs the verification; fails (exit 1) when problems remain unrepaired. */
export async function verify(options: VerifyOptions, io: Io): Promise<VerifyReport> {
  const repair = options.repair ?? false;
  const report = await withTarget(options, io, { command: 'crmsync verify' }, (target) =>
    target.kind === 'local' ? target.node.verify({ repair }) : target.client.verify(repair),
  );
  if (options.json) {
    io.out(json(report));
  } else {
    io.out(keyValues([['records checked', report.checked], ['problems', report.problems], ['repaired', report.repaired]]));
    if (report.details.length > 0) io.out(table(['record', 'problem', 'detail'], report.details.map((d) => [d.id, d.problem, d.detail])));
  }
  const left = report.problems - report.repaired;
  if (left > 0) {
    throw new CliError(`${left} record(s) did not verify`, EXIT.runtime,
      repair ? 'documents that do not load cannot be repaired here: restore the node from a backup or let a peer resend them'
        : `run \`${suggest('verify --repair', options)}\` to rewrite the stored heads and views from the documents`, { code: 'ERR_CORRUPT' });
  }
  return report;
}
