// The verdict in the sticky header: CONVERGED (green), SYNCING (slate), EXPECTED
// DIVERGENCE (amber: an offline laptop or a cut-off node with pending work) or FAULT
// (red: a node that does not answer, linked nodes that stay apart, a link that stays down).
import { duration, fill, h, setAttr, setText } from './dom.js';

function laggingText(l, at) {
  const where = l.offlineSince === null ? 'cut off' : `offline ${duration(at - l.offlineSince)}`;
  return `${l.node}: ${l.unshared} unshared · ${l.behind} behind · ${where}`;
}

/** Renders the verdict box from one /api/state snapshot; `$` finds an element by test id. */
export function renderVerdict($, state) {
  const v = state.verdict;
  setAttr($('convergence'), 'data-state', v.level);
  setText($('convergence-word'), v.word);
  setText($('convergence-headline'), v.headline);
  fill($('lagging'), v.lagging.map((l) => h('li', { 'data-testid': `lagging-${l.node}`, 'data-unshared': l.unshared, 'data-behind': l.behind }, laggingText(l, state.at))));
  fill($('convergence-reasons'), v.reasons.filter((r) => r !== v.headline).map((r) => h('li', {}, r)));
  setText($('clock-check'), `clocks ${v.clocksEqual ? '✓ equal' : '✗ differ'}`);
  const counts = state.nodes.map((n) => (n.records ? `${n.records.live}/${n.records.deleted}` : 'unknown'));
  const first = state.nodes.find((n) => n.records)?.records;
  const everyone = state.nodes.every((n) => n.records);
  setText($('record-check'), v.countsEqual && first && everyone
    ? `records ✓ ${first.live} live, ${first.deleted} deleted on every node`
    : `records ✗ ${state.nodes.map((n, i) => `${n.name} ${counts[i]}`).join(', ')}`);
  setAttr($('record-check'), 'data-state', v.countsEqual && everyone ? 'ok' : 'bad');
  const inactive = state.links.filter((l) => !l.active).length;
  setText($('link-check'), `links ${v.linksUp ? '✓' : '✗'} ${state.links.length - inactive} active${inactive ? `, ${inactive} cut/offline` : ''}`);
}
