/**
 * The demo dashboard in a real browser: starts the demo (five node processes and the
 * dashboard server) as a child process, drives Debian's chromium through playwright-core,
 * and follows an operator's day: converged; a laptop offline with pending edits (amber,
 * expected divergence, named in the sticky header); back online (the feed shows each
 * change once with its fields and reach; the conflict with both writers); keeping one
 * value with the conflict panel's button, after which the conflict is gone and every
 * node shows that value; a node that stops answering (red fault, "unknown" figures); Ctrl-C. Waits on page state, never on
 * time. Screenshots go to test-output/screenshots/; every state is checked for WCAG AA.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alive, startDemo, startedNodes, type DemoProcess } from '../demo/demo-process.js';
import { contrastFailures, screenshot } from './page-helpers.js';

const CHROMIUM = process.env.CRMSYNC_CHROMIUM ?? '/usr/bin/chromium';
const NODES = ['berlin', 'london', 'newyork', 'laptop-anna', 'laptop-ben'];
const RECORD = 'cus-0003';
const LAPTOP_TITLE = 'Head of Rail Procurement';
const REGION_TITLE = 'Director of Logistics';
/** Waits for page state that depends on the nodes syncing (seconds on a slow machine). */
const SYNC_MS = 45_000;

let demo: DemoProcess | undefined;
let browser: Browser | undefined;
let page: Page;
let url: string;
const pageErrors: string[] = [];
const shots: string[] = [];

/** Resolves when the element with `testId` (and the extra selector) is visible. */
const visible = (testId: string, extra = '', timeout = SYNC_MS, on = page) =>
  on.locator(`[data-testid="${testId}"]${extra}`).first().waitFor({ state: 'visible', timeout });
const text = (testId: string) => page.getByTestId(testId).textContent();
/** The rendered background colour (computed style: what the operator sees, not the class). */
const background = (testId: string) => page.getByTestId(testId).evaluate((el) => (globalThis as unknown as BrowserWindow).getComputedStyle(el).backgroundColor);
/** The one browser global `background` calls (the tests compile without the DOM library). */
interface BrowserWindow { getComputedStyle(el: unknown): { backgroundColor: string } }
/** The verdict's colours (demo/public: --ok-strong, --amber, --bad-text). */
const GREEN = 'rgb(11, 122, 60)';
const AMBER = 'rgb(245, 176, 0)';
const RED = 'rgb(180, 35, 24)';
const shoot = async (name: string, fullPage = true, on = page) => void shots.push(await screenshot(on, name, fullPage));
/** The feed entries of one record's changes made on `origin`. */
const feedOf = (origin: string) => page.locator(`[data-testid="feed-item"][data-origin="${origin}"][data-record="${RECORD}"]`);

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: apt-get install -y chromium`).toBe(true);
  demo = startDemo(['--port', '0']);
  url = (await demo.waitFor(/^Dashboard: (http:\/\/\S+)$/m, 150_000))[1]!;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url);
});

beforeEach(({ task, onTestFailed }) => {
  onTestFailed(async () => void (await shoot(`failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => undefined)));
});

afterAll(async () => {
  for (const pid of startedNodes(demo?.stdout() ?? '').pids) if (alive(pid)) process.kill(pid, 'SIGCONT');
  await browser?.close();
  await demo?.interrupt();
  // CI keeps these files as artefacts; say where they are.
  for (const path of shots) console.log(`screenshot: ${path}`);
});

describe('demo dashboard', () => {
  it('shows five converged nodes, each in sync with nothing behind or unshared', async () => {
    expect(url).toMatch(/\/#token=[\w-]{32}$/);
    await visible('convergence', '[data-state="converged"]');
    // The token left the address bar (it stays in this tab's sessionStorage).
    expect(page.url()).not.toContain('token');
    expect(await page.getByTestId('token-notice').isHidden()).toBe(true);
    for (const name of NODES) {
      await visible(`node-card-${name}`);
      expect(await text(`node-records-${name}`)).toBe('200');
      await expect.poll(() => text(`node-synced-${name}`)).toBe('in sync');
      expect([await text(`node-behind-${name}`), await text(`node-unshared-${name}`), await text(`node-offline-${name}`)]).toEqual(['0', '0', '—']);
    }
    await expect.poll(() => text('record-check')).toContain('✓ 200 live');
    await shoot('01-converged');
    expect(await contrastFailures(page)).toEqual([]);
  });

  it('cuts and restores a region link from the UI', async () => {
    await page.getByTestId('link-toggle-berlin-london').click();
    await visible('link-berlin-london', '[data-state="inactive"]');
    await visible('peer-berlin-london', ':not([data-state="connected"])');
    await page.getByTestId('link-toggle-berlin-london').click();
    await visible('link-berlin-london', '[data-state="up"]');
    await visible('convergence', '[data-state="converged"]');
  });

  it('shows a laptop offline with pending edits as an amber expected divergence, named in the sticky header', async () => {
    await page.getByTestId('laptop-toggle-laptop-anna').click();
    await visible('laptop-toggle-laptop-anna', '[data-state="offline"]');
    await visible('node-online-laptop-anna', ':text-is("offline")');
    await page.locator(`[data-testid="edit-record"] option[value="${RECORD}"]`).waitFor({ state: 'attached' });
    await edit('laptop-anna', LAPTOP_TITLE);
    await edit('berlin', REGION_TITLE);

    await visible('convergence', '[data-state="expected"]');
    await visible('convergence-word', ':text-is("EXPECTED DIVERGENCE")');
    expect(await background('convergence')).toBe(AMBER);
    await visible('lagging-laptop-anna', '[data-unshared="1"][data-behind="1"]');
    expect(await text('convergence-headline')).toMatch(/^laptop-anna has been offline \d+ s: 1 change not yet shared, 1 behind$/);
    await expect.poll(() => text('node-unshared-laptop-anna')).toBe('1');
    await expect.poll(() => text('node-behind-laptop-anna')).toBe('1');
    await expect.poll(() => text('node-behind-berlin')).toBe('1');
    // "in sync" turns into "… ago" 1.5 s after the laptop last held everything (cluster-view.js):
    // longer than a default poll, when the edits before came quickly.
    await expect.poll(() => text('node-synced-laptop-anna'), { timeout: 5000 }).toMatch(/ ago$/);
    await expect.poll(() => text('node-offline-laptop-anna')).not.toBe('—');
    // The laptop's change is in the feed once, having reached only the laptop.
    await expect.poll(() => feedOf('laptop-anna').count()).toBe(1);
    expect(await feedOf('laptop-anna').getAttribute('data-reached')).toBe('laptop-anna');
    expect(await feedOf('laptop-anna').getByTestId('feed-fields').textContent()).toBe('title');
    await shoot('02-expected-divergence');

    // Scrolled to the bottom, the verdict is still at the top of the viewport.
    await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
    await expect.poll(() => page.evaluate('window.scrollY')).toBeGreaterThan(300);
    const box = (await page.getByTestId('convergence').boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThan(200);
    await shoot('03-expected-divergence-scrolled', false);
    expect(await contrastFailures(page)).toEqual([]);
    await page.evaluate('window.scrollTo(0, 0)');
  });

  it('brings the laptop back: each change once in the feed, reaching every node, and the conflict with both writers', async () => {
    await page.getByTestId('laptop-toggle-laptop-anna').click();
    await visible('laptop-toggle-laptop-anna', '[data-state="online"]');
    await visible('convergence', '[data-state="converged"]');

    for (const origin of ['laptop-anna', 'berlin']) {
      await expect.poll(() => feedOf(origin).getAttribute('data-reached'), { timeout: SYNC_MS }).toBe(NODES.join(' '));
      expect(await feedOf(origin).count()).toBe(1);
      expect(await feedOf(origin).getByTestId('feed-reached').textContent()).toMatch(/^5\/5 /);
    }

    const conflict = page.getByTestId(`conflict-${RECORD}-title`);
    await expect.poll(() => conflict.textContent(), { timeout: SYNC_MS }).toContain('(5/5)');
    const value = (title: string) => conflict.getByTestId('conflict-value').filter({ hasText: `"${title}"` });
    expect(await value(LAPTOP_TITLE).getByTestId('conflict-author').textContent()).toBe('by laptop-anna');
    expect(await value(REGION_TITLE).getByTestId('conflict-author').textContent()).toBe('by berlin');
    expect(await conflict.locator('.winner').count()).toBe(1);
    // Every node's API has the resolve route: a "Keep this" button per value.
    await expect.poll(() => conflict.getByTestId('conflict-resolve').count()).toBe(2);
    const winner = (await conflict.locator('.winner .value').textContent())!.replace(/"/g, '');
    for (const name of NODES) await visible(`record-value-${name}`, `:text-is("${winner}")`);
    await shoot('04-converged-with-conflict');
    expect(await contrastFailures(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('shows each value\'s write time and the rule that picked the winner, and hides the buttons of a node that answers 404', async () => {
    const other = await browser!.newPage({ viewport: { width: 1440, height: 1000 } });
    // The engine reports both: no stand-in. The demo declares no merge policies, so `title` uses `latest`.
    await other.goto(url);
    const conflict = other.getByTestId(`conflict-${RECORD}-title`);
    await visible(`conflict-${RECORD}-title`, '', SYNC_MS, other);
    await expect.poll(() => conflict.getByTestId('conflict-time').count()).toBe(2);
    for (const time of await conflict.getByTestId('conflict-time').allTextContents()) expect(time).toMatch(/^written \d{2}:\d{2}:\d{2}/);
    expect(await conflict.getByTestId('conflict-rule').textContent()).toBe('winner picked by: latest');
    expect(await conflict.getByTestId('conflict-resolve').count()).toBe(2);
    await shoot('05-conflict-with-time-rule-resolve', true, other);

    // An older engine answers 404 for the resolve route: the page stops offering the buttons.
    await other.route('**/conflicts/title/resolve', (route) => route.fulfill({ status: 404, json: { error: { code: 'ERR_NOT_FOUND', message: 'not found' } } }));
    await conflict.getByTestId('conflict-resolve').first().click();
    await expect.poll(() => conflict.getByTestId('conflict-resolve').count()).toBe(0);
    await other.unrouteAll({ behavior: 'ignoreErrors' });
    await other.close();
  });

  it('keeps one value with the button: the conflict disappears and every node shows that value', async () => {
    const conflict = page.getByTestId(`conflict-${RECORD}-title`);
    // The panel's filter asks every node's inbox for one territory only.
    await page.getByTestId('conflict-territory').fill('nowhere');
    await page.getByTestId('conflict-filter').getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => conflict.count()).toBe(0);
    await page.getByTestId('conflict-territory').fill('');
    await page.getByTestId('conflict-filter').getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => conflict.count()).toBe(1);
    // The value no node shows yet, so every node's view must change.
    const loser = conflict.locator('[data-testid="conflict-value"]:not(.winner)');
    const kept = (await loser.locator('.value').textContent())!.replace(/"/g, '');
    expect([LAPTOP_TITLE, REGION_TITLE]).toContain(kept);
    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/v1/customers/${RECORD}/conflicts/title/resolve`));
    await loser.getByTestId('conflict-resolve').click();
    const request = await sent;
    expect(request.url()).toMatch(/\/api\/nodes\/[\w-]+\/v1\/customers\//);
    expect(request.headers().authorization).toMatch(/^Bearer [\w-]{32}$/);
    expect(request.postDataJSON()).toEqual({ keep: kept });
    const response = (await request.response())!;
    expect(response.status()).toBe(200);
    expect((await response.json()).customer).toMatchObject({ title: kept, conflicts: [] });

    await expect.poll(() => conflict.count(), { timeout: SYNC_MS }).toBe(0);
    await expect.poll(() => text('conflict-count'), { timeout: SYNC_MS }).toBe('0');
    for (const name of NODES) await visible(`record-value-${name}`, `:text-is("${kept}")`);
    await visible('convergence', '[data-state="converged"]');
    await shoot('06-conflict-resolved');
    expect(await contrastFailures(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('shows a node that stops answering as unknown, with a red fault naming it', async () => {
    const ben = startedNodes(demo!.stdout()).pids[NODES.indexOf('laptop-ben')]!;
    process.kill(ben, 'SIGSTOP');
    try {
      await visible('convergence', '[data-state="fault"]');
      expect(await text('convergence-headline')).toBe('laptop-ben does not answer: timed out after 5 s');
      expect(await background('convergence')).toBe(RED);
      await visible('node-online-laptop-ben', ':text-is("unknown")');
      for (const stat of ['records', 'deleted', 'conflicted', 'seq', 'behind', 'unshared']) expect(await text(`node-${stat}-laptop-ben`)).toBe('unknown');
      expect(await text('node-clock-laptop-ben')).toBe('unknown: the node did not answer');
      await visible('peer-laptop-ben-newyork', '[data-state="unknown"]');
      await shoot('07-fault-unknown-node');
      expect(await contrastFailures(page)).toEqual([]);
    } finally {
      process.kill(ben, 'SIGCONT');
    }
    await visible('convergence', '[data-state="converged"]');
    expect(await background('convergence')).toBe(GREEN);
    expect(await text('node-records-laptop-ben')).toBe('200');
  });

  it('stops every node and removes its data on Ctrl-C', async () => {
    const { dataDir, pids } = startedNodes(demo!.stdout());
    expect(dataDir).toBeDefined();
    expect(pids).toHaveLength(5);
    expect(await demo!.interrupt()).toBe(0);
    expect(existsSync(dataDir!)).toBe(false);
    for (const pid of pids) expect(alive(pid), `node process ${pid} still running`).toBe(false);
  });
});

/** Saves `title` for RECORD on `node` through the edit form and waits for the confirmation. */
async function edit(node: string, title: string): Promise<void> {
  await page.getByTestId('edit-node').selectOption(node);
  await page.getByTestId('edit-record').selectOption(RECORD);
  await page.getByTestId('edit-field').selectOption('title');
  await page.getByTestId('edit-value').fill(title);
  await page.getByTestId('edit-submit').click();
  await page.locator('[data-testid="edit-result"][data-state="ok"]', { hasText: `Saved on ${node}` }).waitFor({ timeout: SYNC_MS });
}
