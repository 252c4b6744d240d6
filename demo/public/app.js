// The crmsync demo dashboard. Polls the demo server for the cluster state, the
// conflicts and the chosen record; receives the merged change feed over SSE; sends the
// controls (laptop offline/online, cut/restore a region link, edit a record).
import { api, clockTime, fill, h, poll, setAttr, setText } from './dom.js';
import { renderCards, renderLinks, renderTopology } from './cluster-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const FIELDS = [
  ['title', 'title'], ['phone', 'phone'], ['email', 'email'], ['stage', 'stage'], ['owner', 'owner'],
  ['company', 'company'], ['territory', 'territory'], ['name', 'name'], ['notes', 'notes (replace)'], ['addTag', 'tags (add one)'],
];
const FEED_MAX = 80;
let latest;

// ---- verdict -------------------------------------------------------------------------

function renderVerdict(state) {
  const v = state.verdict;
  const box = $('convergence');
  setAttr(box, 'data-state', v.converged ? 'converged' : 'diverged');
  setText($('convergence-word'), v.converged ? 'CONVERGED' : 'DIVERGED');
  fill($('convergence-reasons'), (v.converged ? ['equal vector clocks · every active link up · 0 behind'] : v.reasons).map((r) => h('li', {}, r)));
  setText($('clock-check'), `clocks ${v.clocksEqual ? '✓ equal' : '✗ differ'}`);
  const counts = state.nodes.map((n) => (n.records ? `${n.records.live}/${n.records.deleted}` : '?'));
  const first = state.nodes[0]?.records;
  setText($('record-check'), v.countsEqual && first
    ? `records ✓ ${first.live} live, ${first.deleted} deleted on every node`
    : `records ✗ ${state.nodes.map((n, i) => `${n.name} ${counts[i]}`).join(', ')}`);
  setAttr($('record-check'), 'data-state', v.countsEqual ? 'ok' : 'bad');
  const inactive = state.links.filter((l) => !l.active).length;
  setText($('link-check'), `links ${v.linksUp ? '✓' : '✗'} ${state.links.length - inactive} active${inactive ? `, ${inactive} cut/offline` : ''}`);
}

// ---- controls ------------------------------------------------------------------------

async function control(button, path) {
  button.disabled = true;
  const result = $('control-result');
  try {
    await api('POST', path);
    setText(result, '');
    await refreshState();
  } catch (err) {
    setText(result, `✗ ${err.message}`);
  } finally {
    button.disabled = false;
    if (latest) render(latest);
  }
}

const onLaptop = (name, online, button) => control(button, `/api/laptops/${encodeURIComponent(name)}/${online ? 'online' : 'offline'}`);
const onRegionLink = (a, b, restore, button) => control(button, `/api/links/${encodeURIComponent(a)}/${encodeURIComponent(b)}/${restore ? 'restore' : 'cut'}`);

function render(state) {
  renderVerdict(state);
  renderCards($('node-cards'), state, onLaptop);
  renderLinks($('links'), state, onRegionLink);
  renderTopology($('topology'), state);
  const picker = $('edit-node');
  if (picker.options.length === 0) fill(picker, state.nodes.map((n) => h('option', { value: n.name }, `${n.name} (${n.role})`)));
  setText($('updated-at'), `updated ${clockTime(state.at)}`);
}

async function refreshState() {
  try {
    latest = await api('GET', '/api/state');
    $('offline-banner').hidden = true;
    render(latest);
  } catch (err) {
    $('offline-banner').hidden = false;
    throw err;
  }
}

// ---- editing -------------------------------------------------------------------------

function patchFor(field, value) {
  if (field === 'addTag') return { addTags: [value] };
  if (field === 'notes') return { notes: value };
  return { [field]: value === '' ? null : value };
}

function shown(customer, field) {
  if (!customer) return '(missing)';
  if (field === 'addTag') return customer.tags.join(', ') || '—';
  const value = customer[field];
  return value === undefined || value === null || value === '' ? '—' : String(value);
}

async function loadRecords() {
  const { records } = await api('GET', '/api/records');
  fill($('edit-record'), records.map((r) => h('option', { value: r.id }, `${r.id} — ${r.name}${r.company ? ` (${r.company})` : ''}`)));
}

async function submitEdit(event) {
  event.preventDefault();
  const node = $('edit-node').value;
  const id = $('edit-record').value;
  const field = $('edit-field').value;
  const value = $('edit-value').value.trim();
  const result = $('edit-result');
  const submit = $('edit-submit');
  submit.disabled = true;
  setAttr(result, 'data-state', 'pending');
  setText(result, `Saving on ${node}…`);
  try {
    await api('PATCH', `/api/nodes/${encodeURIComponent(node)}/v1/customers/${encodeURIComponent(id)}`, patchFor(field, value));
    setAttr(result, 'data-state', 'ok');
    setText(result, `✓ Saved on ${node}: ${id} ${field} = "${value}"`);
    await refreshRecord();
  } catch (err) {
    setAttr(result, 'data-state', 'error');
    setText(result, `✗ ${node} refused: ${err.message}`);
  } finally {
    submit.disabled = false;
  }
}

async function refreshRecord() {
  const id = $('edit-record').value;
  const field = $('edit-field').value;
  if (!id) return;
  const { nodes } = await api('GET', `/api/records/${encodeURIComponent(id)}`);
  setText($('record-view-field'), field === 'addTag' ? 'tags' : field);
  const values = new Set(nodes.map((n) => shown(n.customer, field)));
  fill($('record-view').tBodies[0], nodes.map((n) => h('tr', { 'data-testid': `record-view-${n.node}`, class: values.size > 1 ? 'differs' : '' },
    h('th', {}, n.node),
    h('td', { 'data-testid': `record-value-${n.node}` }, n.error ? `error: ${n.error}` : shown(n.customer, field)),
    h('td', {}, n.customer?.conflicts.join(', ') || '—'),
    h('td', {}, n.customer ? clockTime(n.customer.updatedAt) : '—'))));
}

// ---- conflicts and feed ----------------------------------------------------------------

async function refreshConflicts() {
  const { conflicts } = await api('GET', '/api/conflicts');
  const total = latest?.nodes.length ?? 0;
  setText($('conflict-count'), String(new Set(conflicts.map((c) => `${c.id}/${c.field}`)).size));
  fill($('conflicts'), conflicts.length === 0 ? [h('li', { class: 'empty' }, 'No conflicts yet — edit the same field on two disconnected nodes.')]
    : conflicts.map((c) => h('li', { class: 'conflict', 'data-testid': `conflict-${c.id}-${c.field}` },
      h('div', { class: 'conflict-head' }, h('b', {}, c.id), ` ${c.name} · `, h('code', {}, c.field)),
      h('ul', { class: 'values' }, c.values.map((v) => h('li', { class: v.winner ? 'winner' : '', 'data-testid': 'conflict-value' },
        h('span', { class: 'value' }, `"${v.value}"`), h('span', { class: 'author' }, `by ${v.node ?? 'unknown'}`),
        v.winner ? h('span', { class: 'crown' }, '★ shown everywhere') : h('span', { class: 'kept' }, 'kept')))),
      h('small', {}, `reported by ${c.nodes.join(', ')} (${c.nodes.length}/${total})`))));
}

function startFeed() {
  const list = $('feed');
  const source = new EventSource('/api/events');
  source.addEventListener('change', (message) => {
    const e = JSON.parse(message.data);
    const latency = Math.max(0, e.receivedAt - e.time);
    const what = e.source === 'local' ? 'local edit' : `from ${e.origin} · ${latency < 1000 ? `${latency} ms` : `${(latency / 1000).toFixed(1)} s`}`;
    list.prepend(h('li', { class: `feed-item ${e.source}`, 'data-testid': 'feed-item', 'data-node': e.node },
      h('time', {}, clockTime(e.receivedAt)), h('span', { class: 'node' }, e.node),
      h('span', { class: 'rec' }, `${e.id} ${e.name}`), h('small', {}, what)));
    while (list.children.length > FEED_MAX) list.lastElementChild.remove();
  });
}

// ---- start ---------------------------------------------------------------------------

fill($('edit-field'), FIELDS.map(([value, label]) => h('option', { value }, label)));
$('edit-form').addEventListener('submit', submitEdit);
$('edit-record').addEventListener('change', () => void refreshRecord());
$('edit-field').addEventListener('change', () => void refreshRecord());
poll(refreshState, 1000);
poll(refreshConflicts, 1500);
poll(refreshRecord, 1500);
void loadRecords().then(refreshRecord).catch((err) => console.warn(err));
startFeed();
