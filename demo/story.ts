/**
 * The demo's story, after seeding: offline edits, concurrent conflicting edits, a
 * delete racing an edit, a partition, healing, and what the merge looks like.
 */
import type { RecordInputLike, RecordView, Stage } from '../src/index.js';
import { awaitConvergence, linked, readCluster, waitFor, type Agent, type NodeState } from './cluster.js';
import { canonicalJson } from './protocol.js';
import { clockText, customerCard, heading, ms, say, table } from './print.js';

export interface Nodes {
  berlin: Agent;
  london: Agent;
  laptop: Agent;
}

const LINK_TIMEOUT_MS = 10_000;
export const CONVERGE_TIMEOUT_MS = 30_000;

/** Expectations the story checks; any failure makes the demo exit 1. */
export const problems: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
};

const oneLine = (v: RecordView | null) =>
  v ? `phone ${v.phone ?? '—'} | stage ${v.stage ?? '—'} | title ${v.title ?? '—'}${v.deleted ? ' | DELETED' : ''}` : '(missing)';

async function waitLink(a: Agent, b: Agent, up: boolean): Promise<void> {
  const what = `${a.name} and ${b.name} to ${up ? 'connect' : 'disconnect'}`;
  await waitFor(what, LINK_TIMEOUT_MS, async () => (await linked(a, b, up)) && (await linked(b, a, up)));
}

/** Runs the story; returns the converged final states. */
export async function tellStory(nodes: Nodes, star: RecordInputLike, doomed: RecordInputLike): Promise<NodeState[]> {
  const { berlin, london, laptop } = nodes;
  const all = [berlin, london, laptop];
  const starId = star.id!;
  const doomedId = doomed.id!;

  heading(`The customer this story is about: ${starId}`);
  customerCard('berlin', await berlin.call('get', starId));

  heading('laptop-anna goes offline (Anna boards a train)');
  await laptop.call('removePeer', london.url);
  await waitLink(laptop, london, false);
  say(`laptop-anna: removePeer(${london.url}) — the link laptop-anna ⇄ london is down.`,
    'Anna keeps working on her local copy; berlin keeps working too.');

  heading('Concurrent edits while the laptop is offline');
  const newStage: Stage = star.stage === 'negotiation' ? 'proposal' : 'negotiation';
  const lapPhone = '+49 170 5550123';
  const lapNote = '[anna, laptop] Called from the train: new mobile number, wants a quote by Friday.';
  const berNote = '[berlin office] Contract draft sent; legal review scheduled.';
  const lapTitle = 'Chief Procurement Officer';
  const berTitle = 'VP Purchasing & Logistics';
  const doomedNote = '[anna, laptop] Visited them today: they are NOT leaving, they want a new offer.';
  const doomedPhone = '+44 7700 900123';
  await laptop.call('update', starId, { phone: lapPhone, title: lapTitle, notes: `${star.notes}\n${lapNote}` });
  await berlin.call('update', starId, { stage: newStage, title: berTitle, notes: `${star.notes}\n${berNote}` });
  await berlin.call('delete', doomedId);
  await laptop.call('update', doomedId, { phone: doomedPhone, notes: `${doomed.notes}\n${doomedNote}` });
  table(['node', 'record', 'change'], [
    ['laptop-anna', starId, `phone → ${lapPhone}   (different field than berlin)`],
    ['berlin', starId, `stage → ${newStage}   (different field than laptop)`],
    ['laptop-anna', starId, `title → "${lapTitle}"   (same field!)`],
    ['berlin', starId, `title → "${berTitle}"   (same field!)`],
    ['laptop-anna', starId, 'notes += one line'],
    ['berlin', starId, 'notes += one line'],
    ['berlin', doomedId, `DELETE ${doomed.name} (${doomed.company}) — "they churned"`],
    ['laptop-anna', doomedId, `phone → ${doomedPhone}, notes += one line (concurrent with the delete)`],
  ]);

  heading('Partition: the berlin ⇄ london link is cut, london edits too');
  await waitFor("london to receive berlin's edits", LINK_TIMEOUT_MS, async () => {
    const [b, l] = await Promise.all([berlin.call('status'), london.call('status')]);
    return b.clock.berlin === l.clock.berlin;
  });
  await berlin.call('removePeer', london.url);
  await waitLink(berlin, london, false);
  say(`berlin: removePeer(${london.url}) — now every node is on its own island.`);
  await london.call('update', starId, { addTags: ['key account'], incrementInteractions: 1 });
  await berlin.call('update', starId, { incrementInteractions: 1 });
  say('london adds tag "key account" and logs a call (interactions +1) on the same customer;',
    'berlin logs a call too (interactions +1).', '', 'What each node believes right now:');
  const split = await readCluster(all);
  const views = await Promise.all(all.map((a) => a.call('get', starId)));
  table(['node', 'clock', starId], split.map((s, i) => [s.agent.name, clockText(s.status.clock), oneLine(views[i]!)]));

  heading('Heal: all links come back');
  const healedAt = Date.now();
  await berlin.call('addPeer', london.url);
  await laptop.call('addPeer', london.url);
  await Promise.all([waitLink(berlin, london, true), waitLink(laptop, london, true)]);
  say('berlin ⇄ london ⇄ laptop-anna reconnected; waiting for equal clocks and identical records…');
  const merged = await awaitConvergence(all, CONVERGE_TIMEOUT_MS);
  say(`Converged ${ms(Date.now() - healedAt)} after healing: clocks ${clockText(merged[0]!.status.clock)}.`);

  heading(`The merged customer ${starId} on every node`);
  const finals = await Promise.all(all.map((a) => a.call('get', starId)));
  all.forEach((a, i) => customerCard(a.name, finals[i]!));
  for (const [i, v] of finals.entries()) {
    const who = all[i]!.name;
    check(v?.phone === lapPhone, `${who}: phone should be the laptop's ${lapPhone}, is ${v?.phone}`);
    check(v?.stage === newStage, `${who}: stage should be berlin's ${newStage}, is ${v?.stage}`);
    check(!!v?.notes.includes(lapNote) && !!v.notes.includes(berNote), `${who}: notes should contain both appended lines`);
    check(!!v?.tags.includes('key account'), `${who}: tags should include london's "key account"`);
    check(v?.interactions === (star.interactions ?? 0) + 2, `${who}: both interaction increments should count`);
    check(!!v?.conflicts.includes('title'), `${who}: title should be reported as conflicted`);
  }

  heading('The conflict on `title` (records.conflicts)');
  const conflicts = await Promise.all(all.map((a) => a.call('conflicts', starId)));
  const title = conflicts[0]!.find((c) => c.field === 'title');
  for (const value of title?.values ?? []) {
    say(`"${value.value}"  written by ${value.node ?? 'unknown'}${value.winner ? '   ← shown on every node (deterministic winner)' : '   (kept as a conflict value)'}`);
  }
  const same = conflicts.every((c) => canonicalJson(c) === canonicalJson(conflicts[0]));
  say(same ? 'All three nodes report the same conflict values and the same winner; nothing was lost.'
    : 'WARNING: the nodes report different conflicts!');
  const authors = new Map(title?.values.map((v) => [v.value, v.node]) ?? []);
  check(authors.get(lapTitle) === 'laptop-anna' && authors.get(berTitle) === 'berlin', 'title conflict should hold both values with their authors');
  check(same, 'all nodes should report identical conflicts');

  heading(`Delete vs. concurrent edit: ${doomedId}`);
  const tombs = await Promise.all(all.map((a) => a.call('get', doomedId)));
  table(['node', doomedId], tombs.map((v, i) => [all[i]!.name, oneLine(v)]));
  check(tombs.every((v) => v?.deleted === true), 'the deleted record should stay deleted on every node');
  say('The delete wins: the edit did not touch the tombstone, so the record stays deleted everywhere.',
    "But the edit is not lost — london restores the record and Anna's changes are there:");
  const restored = await london.call('restore', doomedId);
  customerCard('london, after restore', restored);
  check(restored.phone === doomedPhone && restored.notes.includes(doomedNote), "restore should show the laptop's edit");
  return awaitConvergence(all, CONVERGE_TIMEOUT_MS);
}
