// The conflicts list and the live feed. Both are keyed: an element is replaced only when
// what it shows changed, so a click on a resolve button is not lost to a refresh, and a
// change that reaches one more node updates its feed entry instead of adding another.
import { clockTime, fill, h, setText } from './dom.js';

const FEED_MAX = 80;
const quoted = (value) => (value === null ? '(empty)' : `"${value}"`);

function valueRow(c, v, canResolve, onResolve) {
  const button = canResolve
    ? h('button', { type: 'button', class: 'toggle resolve', 'data-testid': 'conflict-resolve', title: `keep this value (POST via ${c.resolveVia})` }, 'Keep this')
    : null;
  button?.addEventListener('click', () => onResolve(c, v, button));
  return h('li', { class: v.winner ? 'winner' : '', 'data-testid': 'conflict-value', 'data-node': v.node ?? '' },
    h('span', { class: 'value' }, quoted(v.value)),
    h('span', { class: 'author', 'data-testid': 'conflict-author' }, `by ${v.node ?? 'unknown node'}`),
    v.time === null ? null : h('span', { class: 'written', 'data-testid': 'conflict-time' }, `written ${clockTime(v.time)}`),
    v.author === null ? null : h('span', { class: 'written', 'data-testid': 'conflict-change-author' }, `(${v.author})`),
    v.winner ? h('span', { class: 'crown' }, '★ shown everywhere') : h('span', { class: 'kept' }, 'kept'),
    button);
}

function conflictItem(c, total, canResolve, onResolve) {
  return h('li', { class: 'conflict', 'data-testid': `conflict-${c.id}-${c.field}` },
    h('div', { class: 'conflict-head' }, h('b', {}, c.id), ` ${c.name} · `, h('code', {}, c.field)),
    h('ul', { class: 'values' }, c.values.map((v) => valueRow(c, v, canResolve, onResolve))),
    c.rule === null ? null : h('span', { class: 'rule', 'data-testid': 'conflict-rule' }, `winner picked by: ${c.rule}`),
    h('small', {}, `reported by ${c.nodes.join(', ')} (${c.nodes.length}/${total})`));
}

/**
 * Renders the conflicts. `canResolve(row)` says whether to offer the resolve button
 * (the node's API has the endpoint and did not answer 404); `onResolve(row, value, button)`.
 */
export function renderConflicts(list, count, conflicts, total, canResolve, onResolve) {
  setText(count, String(new Set(conflicts.map((c) => `${c.id}/${c.field}`)).size));
  if (conflicts.length === 0) {
    if (!list.querySelector('.empty')) fill(list, h('li', { class: 'empty' }, 'No conflicts yet — edit the same field on two disconnected nodes.'));
    return;
  }
  const existing = new Map([...list.children].map((li) => [li.dataset.signature, li]));
  fill(list, conflicts.map((c) => {
    const resolvable = canResolve(c);
    const signature = JSON.stringify([c, total, resolvable]);
    const li = existing.get(signature) ?? conflictItem(c, total, resolvable, onResolve);
    li.dataset.signature = signature;
    return li;
  }));
}

function feedItem(item, nodes) {
  const reached = new Set(item.reached);
  return h('li', {
    class: 'feed-item', 'data-testid': 'feed-item', 'data-key': item.key, 'data-origin': item.origin, 'data-record': item.id,
    'data-reached': item.reached.join(' '),
  },
  h('time', {}, clockTime(item.time)),
  h('span', {}, h('span', { class: 'node' }, item.origin), ` · ${item.id} ${item.name}`),
  h('span', { class: 'fields', 'data-testid': 'feed-fields' }, item.fields.length ? item.fields.map((f) => h('code', {}, f)) : '(no field changes)'),
  h('span', { class: 'reached', 'data-testid': 'feed-reached', title: `reached ${reached.size} of ${nodes.length} nodes` },
    `${reached.size}/${nodes.length} `, nodes.map((n) => h('span', { class: reached.has(n) ? 'chip on' : 'chip' }, n))));
}

/** Adds a feed item, or updates it in place when the same change reached more nodes. `nodes`: every node name. */
export function upsertFeedItem(list, item, nodes) {
  const old = list.querySelector(`[data-key="${CSS.escape(item.key)}"]`);
  const li = feedItem(item, nodes);
  if (old) old.replaceWith(li);
  else list.prepend(li);
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}
