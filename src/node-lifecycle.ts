/**
 * Part of the composition root: a record's end of life. Erasures are signed statements
 * in the trust list (every member holds them; they travel like grants): this wires them
 * to the engine, which removes the erased records and stubs their entries, now and
 * whenever one arrives from a peer or a backup, and catches up at open on erasures a
 * crash left unapplied. The records API's erase and erasures live here.
 */
import { CrmsyncError } from './errors.js';
import type { Engine } from './engine/engine.js';
import type { Logger } from './log.js';
import type { TrustStatement } from './trust/statements.js';
import type { TrustService } from './trust/trust-service.js';
import { parseRecordId, type NodeId } from './types.js';

/** One erasure, as the audit shows it: who, when, the salted hash; never the record or its data. */
export interface ErasureView {
  /** erasureSubject(cluster, record id). */
  subject: string;
  /** The node (an administrator) that erased it. */
  node: NodeId;
  /** Fingerprint of the key that signed the erasure. */
  key: string;
  /** When (ms since epoch). */
  at: number;
}

/** The erasure operations of the records API. */
export interface ErasureApi {
  /** Erases a record on every node, for good (administrators only): see README "Erasure". */
  erase(id: string): Promise<ErasureView>;
  /** Every erasure of the cluster, oldest first. */
  erasures(): ErasureView[];
}

function viewOf(s: TrustStatement): ErasureView {
  return { subject: s.subject!, node: s.node, key: s.key, at: s.at };
}

/** Wires erasures to the engine; returns the API and a function that waits for queued purges. */
export async function wireErasures(options: {
  engine: Engine; trust: TrustService; self: NodeId; now: () => number; logger: Logger; assertOpen: () => void;
}): Promise<{ api: ErasureApi; idle: () => Promise<void> }> {
  const { engine, trust, self, now, logger, assertOpen } = options;
  let purging: Promise<void> = Promise.resolve();
  const purge = (subjects: string[]) => {
    const applied = trust.list.erasureCount;
    purging = purging.then(async () => {
      const held = await engine.applyErasures(subjects, applied);
      // The subjects, shortened: enough to match the audit; never a record id.
      logger.info({ erasures: subjects.length, held, subjects: subjects.slice(0, 10).map((s) => s.slice(0, 16)) }, 'erasures applied');
    }).catch((err: unknown) => logger.error({ err }, 'applying erasures failed'));
  };
  trust.events.on('added', (added) => {
    const subjects = added.filter((s) => s.op === 'erase').map((s) => s.subject!);
    if (subjects.length > 0) purge(subjects);
  });
  if ((await engine.erasuresApplied()) < trust.list.erasureCount) purge(trust.list.erasures().map((s) => s.subject!));
  await purging;
  const api: ErasureApi = {
    async erase(rawId) {
      assertOpen();
      const id = parseRecordId(rawId);
      trust.requireAdmin();
      const subject = engine.gone.subject(id);
      const existing = trust.list.erasureOf(subject);
      if (existing) return viewOf(existing);
      // An id this node never held is refused: an erasure is forever, a typo must not be.
      if (!(await engine.get(id)) && (await engine.history(id, 1)).length === 0) {
        throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist on this node; erase it on a node that holds it`);
      }
      const statement = await trust.erase(subject, self, now());
      await purging; // the purge the statement started ('added' fires before erase returns)
      return viewOf(statement);
    },
    erasures() {
      assertOpen();
      return trust.list.erasures().map(viewOf);
    },
  };
  return { api, idle: () => purging };
}
