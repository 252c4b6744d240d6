// The cluster part of the dashboard: node cards, the links list and the topology
// drawing, all rendered from one /api/state snapshot. Elements that hold buttons are
// created once and then updated, so a click never lands on a replaced element.
import { duration, fill, h, s, setAttr, setText } from './dom.js';

/** How a link looks: 'up' (in sync), 'syncing', 'down' (meant to be up, not yet), 'inactive' (cut/offline). */
export function linkLook(link) {
  if (!link.active) return link.up ? 'down' : 'inactive';
  if (!link.up) return 'down';
  return link.behind > 0 ? 'syncing' : 'up';
}

function linkText(link) {
  const look = linkLook(link);
  if (look === 'inactive') return link.kind === 'laptop' ? 'offline' : 'cut';
  if (look === 'down') return link.active ? 'connecting…' : 'disconnecting…';
  if (look === 'syncing') return `syncing · ${link.behind} behind · ${link.lagSeconds.toFixed(1)} s`;
  return 'in sync';
}

const PEER_TEXT = { connected: 'connected', connecting: 'connecting', backoff: 'retrying', stopped: 'stopped', none: 'no link', unknown: 'unknown' };

function peerRow(card, p) {
  const detail = p.state === 'unknown' ? 'the node did not answer'
    : p.state === 'connected' ? `${p.direction ?? ''} · behind ${p.behind} · ahead ${p.ahead} · lag ${p.lagSeconds.toFixed(1)} s`
      : p.active ? 'link meant to be up' : p.kind === 'laptop' ? 'laptop offline' : 'link cut';
  return h('li', { 'data-testid': `peer-${card.name}-${p.node}`, 'data-state': p.state, class: `peer ${p.state}` },
    h('span', { class: 'dot' }), h('b', {}, p.node), h('span', { class: 'peer-state' }, PEER_TEXT[p.state] ?? p.state),
    h('small', {}, detail));
}

function clockTable(card, origins, maxima) {
  if (!card.clock) return h('p', { class: 'unknown-note', 'data-testid': `node-clock-${card.name}` }, 'unknown: the node did not answer');
  return h('table', { class: 'clock', 'data-testid': `node-clock-${card.name}` },
    h('tbody', {}, origins.map((origin) => {
      const seq = card.clock[origin] ?? 0;
      const stale = seq < (maxima[origin] ?? 0);
      return h('tr', { class: stale ? 'stale' : '' }, h('th', {}, origin), h('td', {}, String(seq)), h('td', { class: 'gap' }, stale ? `−${maxima[origin] - seq}` : ''));
    })));
}

const stat = (name, label, testid, title) =>
  h('div', { title }, h('dt', {}, label), h('dd', { 'data-testid': `${testid}-${name}` }));

function createCard(card, onLaptop) {
  const el = h('article', { class: `card ${card.role}`, 'data-testid': `node-card-${card.name}` },
    h('header', {},
      h('h3', {}, card.name),
      h('span', { class: 'role' }, card.role),
      h('span', { class: 'badge', 'data-testid': `node-online-${card.name}` })),
    h('p', { class: 'label' }, card.label),
    h('div', { class: 'card-actions' }),
    h('dl', { class: 'stats' },
      stat(card.name, 'live', 'node-records'), stat(card.name, 'deleted', 'node-deleted'),
      stat(card.name, 'conflicted', 'node-conflicted'), stat(card.name, 'seq', 'node-seq')),
    h('dl', { class: 'stats sync-stats' },
      stat(card.name, 'behind', 'node-behind', 'changes another node holds that this one lacks'),
      stat(card.name, 'unshared', 'node-unshared', 'changes made here that no other node holds yet'),
      stat(card.name, 'synced', 'node-synced', 'how long ago it last held every change and had shared all of its own'),
      stat(card.name, 'offline', 'node-offline', 'how long it has had no connected peer')),
    h('h4', {}, 'Peers'),
    h('ul', { class: 'peers', 'data-testid': `node-peers-${card.name}` }),
    h('h4', {}, 'Vector clock'),
    h('div', { class: 'clock-box' }),
    h('p', { class: 'error', 'data-testid': `node-error-${card.name}` }),
    h('footer', {}, h('code', {}, card.apiUrl), h('code', {}, card.peerUrl), h('span', {}, `pid ${card.pid ?? '?'}`)));
  if (card.role === 'laptop') {
    const button = h('button', { type: 'button', class: 'toggle', 'data-testid': `laptop-toggle-${card.name}` });
    button.addEventListener('click', () => onLaptop(card.name, button.dataset.action === 'online', button));
    el.querySelector('.card-actions').append(button);
  }
  return el;
}

/** Sets a stat: a number, or "unknown" (never a made-up 0) when the node did not answer. */
function setStat(dd, value, { time = false, state = '' } = {}) {
  const unknown = value === null || value === undefined;
  setText(dd, unknown ? 'unknown' : String(value));
  setAttr(dd, 'class', unknown ? 'unknown' : time ? 'time' : '');
  setAttr(dd.parentElement, 'data-state', unknown ? '' : state);
}

/** The sync figures of one card: behind, unshared, last synced, offline for. */
function renderSync(card, q, at) {
  setStat(q('node-behind'), card.behind, { state: card.behind > 0 ? 'warn' : 'ok' });
  setStat(q('node-unshared'), card.unshared, { state: card.unshared > 0 ? 'warn' : 'ok' });
  const synced = card.lastSyncedAt === null ? (card.reachable ? 'not yet' : null) : at - card.lastSyncedAt < 1500 ? 'in sync' : `${duration(at - card.lastSyncedAt)} ago`;
  setStat(q('node-synced'), synced, { time: true, state: synced === 'in sync' ? 'ok' : 'warn' });
  const offline = q('node-offline');
  setText(offline.previousElementSibling, card.reachable ? 'offline' : 'no answer');
  const since = card.offlineSince === null ? '—' : at - card.offlineSince < 1500 ? '0 s' : duration(at - card.offlineSince);
  setStat(offline, since, { time: true, state: card.offlineSince === null ? '' : 'warn' });
}

/** Renders (creating once, then updating) one card per node. */
export function renderCards(container, state, onLaptop) {
  const clocks = state.nodes.filter((n) => n.clock).map((n) => n.clock);
  const origins = [...new Set(clocks.flatMap((c) => Object.keys(c)))].sort();
  const maxima = Object.fromEntries(origins.map((o) => [o, Math.max(...clocks.map((c) => c[o] ?? 0))]));
  for (const card of state.nodes) {
    let el = container.querySelector(`[data-testid="node-card-${card.name}"]`);
    if (!el) container.append((el = createCard(card, onLaptop)));
    const q = (id) => el.querySelector(`[data-testid="${id}-${card.name}"]`);
    setAttr(el, 'data-online', card.online);
    setAttr(el, 'data-reachable', card.reachable);
    const badge = q('node-online');
    setText(badge, card.reachable ? (card.online ? 'online' : 'offline') : 'unknown');
    setAttr(badge, 'class', `badge ${card.reachable ? (card.online ? 'online' : 'offline') : 'error'}`);
    setStat(q('node-records'), card.records?.live);
    setStat(q('node-deleted'), card.records?.deleted);
    setStat(q('node-conflicted'), card.conflicted);
    setStat(q('node-seq'), card.lastLocalSeq);
    renderSync(card, q, state.at);
    setText(q('node-error'), card.error ? `does not answer: ${card.error}` : '');
    fill(q('node-peers'), card.peers.map((p) => peerRow(card, p)));
    fill(el.querySelector('.clock-box'), clockTable(card, origins, maxima));
    const toggle = q('laptop-toggle');
    if (toggle && !toggle.disabled) {
      toggle.dataset.action = card.online ? 'offline' : 'online';
      setText(toggle, card.online ? '✈ Take offline' : '⇄ Bring back online');
      setAttr(toggle, 'data-state', card.online ? 'online' : 'offline');
    }
  }
}

/** Renders the links list; region links get a cut/restore button. */
export function renderLinks(list, state, onRegionLink) {
  for (const link of state.links) {
    const id = `${link.a}-${link.b}`;
    let li = list.querySelector(`[data-testid="link-${id}"]`);
    if (!li) {
      li = h('li', { 'data-testid': `link-${id}`, class: 'link' },
        h('span', { class: 'dot' }), h('b', {}, `${link.a} ⇄ ${link.b}`), h('span', { class: 'link-state', 'data-testid': `link-state-${id}` }));
      if (link.kind === 'region') {
        const button = h('button', { type: 'button', class: 'toggle', 'data-testid': `link-toggle-${id}` });
        button.addEventListener('click', () => onRegionLink(link.a, link.b, button.dataset.action === 'restore', button));
        li.append(button);
      }
      list.append(li);
    }
    const look = linkLook(link);
    setAttr(li, 'data-state', look);
    setAttr(li, 'class', `link ${look}`);
    setText(li.querySelector('.link-state'), linkText(link));
    const button = li.querySelector('button');
    if (button && !button.disabled) {
      button.dataset.action = link.active ? 'cut' : 'restore';
      setText(button, link.active ? 'Cut link' : 'Restore link');
    }
  }
}

/** Draws the nodes and links: regions on an inner ring, each laptop further out beside its region. */
export function renderTopology(svg, state) {
  const cx = 210;
  const cy = 128;
  const regions = state.nodes.filter((n) => n.role === 'region');
  const pos = new Map();
  regions.forEach((n, i) => {
    const angle = -Math.PI / 2 + (i * 2 * Math.PI) / regions.length;
    pos.set(n.name, { x: cx + 80 * Math.cos(angle), y: cy + 66 * Math.sin(angle), angle });
  });
  for (const n of state.nodes.filter((m) => m.role === 'laptop')) {
    const link = state.links.find((l) => l.a === n.name || l.b === n.name);
    const region = pos.get(link ? (link.a === n.name ? link.b : link.a) : '') ?? { angle: 0 };
    const angle = region.angle + 0.12;
    pos.set(n.name, { x: cx + 172 * Math.cos(angle), y: cy + 108 * Math.sin(angle), angle });
  }
  const lines = state.links.map((l) => {
    const a = pos.get(l.a);
    const b = pos.get(l.b);
    return s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: `edge ${linkLook(l)}`, 'data-testid': `edge-${l.a}-${l.b}` });
  });
  const nodes = state.nodes.map((n) => {
    const p = pos.get(n.name);
    const r = n.role === 'region' ? 20 : 14;
    // Labels sit on the outer side of each node, away from the links.
    const below = Math.sin(p.angle) > -0.2;
    const cls = `vertex ${n.role} ${!n.reachable ? 'error' : n.online ? 'online' : 'offline'}`;
    return s('g', { class: cls, transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})` },
      s('circle', { r }),
      s('text', { y: below ? r + 15 : -(r + 7), 'text-anchor': 'middle' }, n.name));
  });
  fill(svg, ...lines, ...nodes);
}
