// The cluster part of the dashboard: node cards, the links list and the topology
// drawing, all rendered from one /api/state snapshot. Elements that hold buttons are
// created once and then updated, so a click never lands on a replaced element.
import { fill, h, s, setAttr, setText } from './dom.js';

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

const PEER_TEXT = { connected: 'connected', connecting: 'connecting', backoff: 'retrying', stopped: 'stopped', none: 'no link' };

function peerRow(card, p) {
  const detail = p.state === 'connected'
    ? `${p.direction ?? ''} · behind ${p.behind} · ahead ${p.ahead} · lag ${p.lagSeconds.toFixed(1)} s`
    : p.active ? 'link meant to be up' : p.kind === 'laptop' ? 'laptop offline' : 'link cut';
  return h('li', { 'data-testid': `peer-${card.name}-${p.node}`, 'data-state': p.state, class: `peer ${p.state}` },
    h('span', { class: 'dot' }), h('b', {}, p.node), h('span', { class: 'peer-state' }, PEER_TEXT[p.state] ?? p.state),
    h('small', {}, detail));
}

function clockTable(card, origins, maxima) {
  return h('table', { class: 'clock', 'data-testid': `node-clock-${card.name}` },
    h('tbody', {}, origins.map((origin) => {
      const seq = card.clock[origin] ?? 0;
      const stale = seq < (maxima[origin] ?? 0);
      return h('tr', { class: stale ? 'stale' : '' }, h('th', {}, origin), h('td', {}, String(seq)), h('td', { class: 'gap' }, stale ? `−${maxima[origin] - seq}` : ''));
    })));
}

function createCard(card, onLaptop) {
  const el = h('article', { class: `card ${card.role}`, 'data-testid': `node-card-${card.name}` },
    h('header', {},
      h('h3', {}, card.name),
      h('span', { class: 'role' }, card.role),
      h('span', { class: 'badge', 'data-testid': `node-online-${card.name}` })),
    h('p', { class: 'label' }, card.label),
    h('div', { class: 'card-actions' }),
    h('dl', { class: 'stats' },
      h('div', {}, h('dt', {}, 'live'), h('dd', { 'data-testid': `node-records-${card.name}` })),
      h('div', {}, h('dt', {}, 'deleted'), h('dd', { 'data-testid': `node-deleted-${card.name}` })),
      h('div', {}, h('dt', {}, 'conflicted'), h('dd', { 'data-testid': `node-conflicted-${card.name}` })),
      h('div', {}, h('dt', {}, 'seq'), h('dd', { 'data-testid': `node-seq-${card.name}` }))),
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

/** Renders (creating once, then updating) one card per node. */
export function renderCards(container, state, onLaptop) {
  const origins = [...new Set(state.nodes.flatMap((n) => Object.keys(n.clock)))].sort();
  const maxima = Object.fromEntries(origins.map((o) => [o, Math.max(...state.nodes.map((n) => n.clock[o] ?? 0))]));
  for (const card of state.nodes) {
    let el = container.querySelector(`[data-testid="node-card-${card.name}"]`);
    if (!el) container.append((el = createCard(card, onLaptop)));
    const q = (id) => el.querySelector(`[data-testid="${id}-${card.name}"]`);
    setAttr(el, 'data-online', card.online);
    setAttr(el, 'data-error', card.error ? 'true' : 'false');
    const badge = q('node-online');
    setText(badge, card.error ? 'unreachable' : card.online ? 'online' : 'offline');
    setAttr(badge, 'class', `badge ${card.error ? 'error' : card.online ? 'online' : 'offline'}`);
    setText(q('node-records'), card.records ? String(card.records.live) : '?');
    setText(q('node-deleted'), card.records ? String(card.records.deleted) : '?');
    setText(q('node-conflicted'), String(card.conflicted));
    setText(q('node-seq'), String(card.lastLocalSeq));
    setText(q('node-error'), card.error ?? '');
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
    const cls = `vertex ${n.role} ${n.error ? 'error' : n.online ? 'online' : 'offline'}`;
    return s('g', { class: cls, transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})` },
      s('circle', { r }),
      s('text', { y: below ? r + 15 : -(r + 7), 'text-anchor': 'middle' }, n.name));
  });
  fill(svg, ...lines, ...nodes);
}
