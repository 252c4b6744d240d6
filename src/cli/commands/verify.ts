/**
 * `crmsync verify`: loads every record's document and checks the stored heads and view
 * (what reads are served from) against it; `--repair` rewrites what differs. Works on a
 * stopped node's data directory or, with --api, on the running node. `--peer NODE`
 * compares the running node's holdings with a connected peer's instead (anti-entropy)
 * and repairs what differs through sync.
 */
import type { AntiEntropyResult, VerifyReport } from '../../index.js';
import { connect } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues, table } from '../format.js';
import { suggest } from '../hints.js';
import type { Io } from '../io.js';
import { withTarget, type TargetFlags } from './migrate-target.js';

/** Flags of `crmsync verify`. */
export type VerifyOptions = TargetFlags & { repair?: boolean; json?: boolean; peer?: string };

/** Runs the verification; fails (exit 1) when problems remain unrepaired. */
export async function verify(options: VerifyOptions, io: Io): Promise<VerifyReport | AntiEntropyResult> {
  if (options.peer !== undefined) return verifyPeer(options.peer, options, io);
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

/**
 * Anti-entropy with a connected peer through the running node's API (a stopped node has
 * no peers): prints the counts and the differing ids (ids only); fails (exit 1) when
 * records still differ after the repair.
 */
async function verifyPeer(peer: string, options: VerifyOptions, io: Io): Promise<AntiEntropyResult> {
  if (options.repair) throw new CliError('--peer always repairs what differs; leave out --repair', EXIT.usage);
  const { client } = await connect({ ...options, api: typeof options.api === 'string' ? options.api : undefined }, io);
  const result = await client.verifyPeer(peer);
  if (options.json) {
    io.out(json(result));
  } else {
    io.out(keyValues([
      ['peer', result.peer], ['round trips', result.roundTrips], ['records compared', result.compared],
      ['differing', result.differing], ['repaired', result.repaired], ['remaining', result.remaining],
    ]));
    if (result.differingIds.length > 0) io.out(`\ndiffering records:\n${result.differingIds.join('\n')}`);
  }
  if (result.remaining > 0) {
    throw new CliError(`${result.remaining} record(s) still differ from ${peer} after the repair: ${result.remainingIds.join(', ')}`, EXIT.runtime,
      'changes still in flight settle on their own: run it again in a minute; if they remain, run `crmsync verify` on both nodes', { code: 'ERR_CORRUPT' });
  }
  return result;
}
