/**
 * The scripted story (`npm run demo -- --story`), after seeding: a laptop goes offline,
 * the laptop and a region edit the same customer (the same field and different fields),
 * a delete races an edit, a region link is cut (changes route round it), everything
 * heals, and the merge is checked on every node.
 */
import { STAGE_RANK, type RecordInputLike, type RecordView, type Stage } from '../src/index.js';
import { waitFor, type Cluster, type ClusterState } from './cluster.js';
import { canonicalJson } from './protocol.js';
import { clockText, customerCard, heading, ms, say, table } from './print.js';

const LINK_TIMEOUT_MS = 15_000;
/** How long the nodes get to converge after a heal. */
export const CONVERGE_TIMEOUT_MS = 45_000;

/** The converged final state and every expectation the merge did not meet. */
export interface StoryOutcome {
  final: ClusterState;
  problems: string[];
}

const oneLine = (v: RecordView | null) =>
  v ? `phone ${v.phone ?? '—'} | stage ${v.stage ?? '—'} | title ${v.title ?? '—'}${v.deleted ? ' | DELETED' : ''}` : '(missing)';

async function waitLink(cluster: Cluster, a: string, b: string, up: boolean): Promise<void> {
  await waitFor(`${a} and ${b} to ${up ? 'connect' : 'disconnect'}`, LINK_TIMEOUT_MS, async () => {
    const link = (await cluster.read()).assessment.links.find((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a));
    return link !== undefined && (up ? link.up : Object.values(link.ends).every((s) => s !== 'connected'));
  });
}

/** Runs the story; returns the converged final state and the failed checks. */
export async function tellStory(cluster: Cluster, star: RecordInputLike, doomed: RecordInputLike): Promise<StoryOutcome> {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => void (ok || problems.push(what));
  const api = (name: string) => cluster.get(name).process.client;
  const [berlin, london, laptop, ben] = [api('berlin'), api('london'), api('laptop-anna'), api('laptop-ben')];
  const everyone = cluster.all().map((m) => m.process.client);
  const starId = star.id!;
  const doomedId = doomed.id!;

  heading(`The customer this story is about: ${starId}`);
  customerCard('berlin', await berlin.get(starId));

  heading('laptop-anna goes offline (Anna boards a train)');
  await cluster.setLaptopOnline('laptop-anna', false);
  await waitLink(cluster, 'london', 'laptop-anna', false);
  say('laptop-anna: DELETE /v1/peers (london) — its only link is down; it is an island of one.',
    'Anna keeps working on her local copy; the offices keep working too.');

  heading('Concurrent edits while the laptop is offline');
  const newStage: Stage = star.stage === 'negotiation' ? 'proposal' : 'negotiation';
  const lapPhone = '+49 170 5550123';
  const lapNote = '[anna, laptop] Called from the train: new mobile number, wants a quote by Friday.';
  const berNote = '[berlin office] Contract draft sent; legal review scheduled.';
  const lapTitle = 'Chief Procurement Officer';
  const berTitle = 'VP Purchasing & Logistics';
  const doomedNote = '[anna, laptop] Visited them today: they are NOT leaving, they want a new offer.';
  const doomedPhone = '+44 7700 900123';
  await laptop.update(starId, { phone: lapPhone, title: lapTitle, notes: `${star.notes}\n${lapNote}` });
  // Stages only move forward unless the deal is reopened (the monotonic merge policy).
  const reopen = STAGE_RANK[newStage] < STAGE_RANK[star.stage ?? 'lead'];
  await berlin.update(starId, { stage: newStage, ...(reopen ? { reopen } : {}), title: berTitle, notes: `${star.notes}\n${berNote}` });
  await berlin.delete(doomedId);
  await laptop.update(doomedId, { phone: doomedPhone, notes: `${doomed.notes}\n${doomedNote}` });
  table(['node', 'record', 'change (PATCH /v1/customers/:id)'], [
    ['laptop-anna', starId, `phone → ${lapPhone}   (different field than berlin)`],
    ['berlin', starId, `stage → ${newStage}   (different field than the laptop)`],
    ['laptop-anna', starId, `title → "${lapTitle}"   (same field!)`],
    ['berlin', starId, `title → "${berTitle}"   (same field!)`],
    ['laptop-anna', starId, 'notes += one line'],
    ['berlin', starId, 'notes += one line'],
    ['berlin', doomedId, `DELETE ${doomed.name} (${doomed.company}) — "they churned"`],
    ['laptop-anna', doomedId, `phone → ${doomedPhone}, notes += one line (concurrent with the delete)`],
  ]);

  heading('The berlin ⇄ london link is cut; changes route round it');
  await cluster.setRegionLink('berlin', 'london', false);
  await waitLink(cluster, 'berlin', 'london', false);
  const cutAt = Date.now();
  await berlin.update(starId, { incrementInteractions: 1 });
  const seq = (await berlin.status()).clock.berlin;
  await waitFor("london to receive berlin's edits via newyork", LINK_TIMEOUT_MS, async () => (await london.status()).clock.berlin === seq);
  say(`berlin logs a call (interactions +1); london has it ${ms(Date.now() - cutAt)} later, relayed by newyork.`);
  await london.update(starId, { addTags: ['key account'], incrementInteractions: 1 });
  await ben.update(starId, { addTags: ['us expansion'] });
  say('london adds tag "key account" and logs a call too; laptop-ben (via newyork) adds tag "us expansion".',
    '', 'What each node believes right now:');
  const split = await cluster.read();
  const views = await Promise.all(everyone.map((c) => c.get(starId)));
  table(['node', 'clock', starId], split.reports.map((r, i) => [r.name, r.status ? clockText(r.status.clock) : '?', oneLine(views[i]!)]));

  heading('Heal: laptop-anna comes back online, berlin ⇄ london is restored');
  const healedAt = Date.now();
  await cluster.setLaptopOnline('laptop-anna', true);
  await cluster.setRegionLink('berlin', 'london', true);
  say('Waiting for equal vector clocks, every link up with nothing behind, identical records…');
  const merged = await cluster.awaitConvergence(CONVERGE_TIMEOUT_MS);
  say(`Converged ${ms(Date.now() - healedAt)} after healing: clocks ${clockText(merged.reports[0]!.status!.clock)}.`);

  heading(`The merged customer ${starId}`);
  const finals = await Promise.all(everyone.map((c) => c.get(starId)));
  customerCard('berlin (every node shows the same)', finals[0]!);
  const identical = finals.every((v) => canonicalJson(v) === canonicalJson(finals[0]));
  say('', identical ? `All ${finals.length} nodes return exactly this record.` : 'WARNING: the nodes return different records!');
  check(identical, 'every node should return the identical merged record');
  const v = finals[0];
  check(v?.phone === lapPhone, `phone should be the laptop's ${lapPhone}, is ${v?.phone}`);
  check(v?.stage === newStage, `stage should be berlin's ${newStage}, is ${v?.stage}`);
  check(!!v?.notes.includes(lapNote) && !!v.notes.includes(berNote), 'notes should contain both appended lines');
  check(!!v?.tags.includes('key account') && v.tags.includes('us expansion'), "tags should include london's and laptop-ben's");
  check(v?.interactions === (star.interactions ?? 0) + 2, 'both interaction increments should count');
  check(!!v?.conflicts.includes('title'), 'title should be reported as conflicted');

  heading('The conflict on `title` (GET /v1/customers/:id/conflicts)');
  const conflicts = await Promise.all(everyone.map((c) => c.conflicts(starId)));
  const title = conflicts[0]!.find((c) => c.field === 'title');
  for (const value of title?.values ?? []) {
    say(`"${value.value}"  written by ${value.node ?? 'unknown'}${value.winner ? `   ← shown on every node (merge rule: ${title!.rule}, the later write)` : '   (kept as a conflict value)'}`);
  }
  const same = conflicts.every((c) => canonicalJson(c) === canonicalJson(conflicts[0]));
  say(same ? `All ${conflicts.length} nodes report the same conflict values and the same winner; nothing was lost.`
    : 'WARNING: the nodes report different conflicts!');
  const authors = new Map(title?.values.map((x) => [x.value, x.node]) ?? []);
  check(authors.get(lapTitle) === 'laptop-anna' && authors.get(berTitle) === 'berlin', 'title conflict should hold both values with their authors');
  check(same, 'all nodes should report identical conflicts');

  heading(`Delete vs. concurrent edit: ${doomedId}`);
  const tombs = await Promise.all(everyone.map((c) => c.get(doomedId)));
  table(['node', doomedId], tombs.map((t, i) => [cluster.all()[i]!.spec.name, oneLine(t)]));
  check(tombs.every((t) => t?.deleted === true), 'the deleted record should stay deleted on every node');
  say('The delete wins: the edit did not touch the tombstone, so the record stays deleted everywhere.',
    "But the edit is not lost — london restores the record and Anna's changes are there:");
  const restored = await london.restore(doomedId);
  customerCard('london, after restore', restored);
  check(restored.phone === doomedPhone && restored.notes.includes(doomedNote), "restore should show the laptop's edit");
  return { final: await cluster.awaitConvergence(CONVERGE_TIMEOUT_MS), problems };
}
