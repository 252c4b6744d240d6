/**
 * The demo dashboard in a real browser: starts `npm run demo` (five node processes and
 * the dashboard server) as a child process, drives Debian's chromium through
 * playwright-core, and follows the offline-edit story through the UI: laptop offline,
 * the same field edited on the laptop and on a region, laptop back online, CONVERGED,
 * and the conflict listed with both values. Waits on page state, never on time.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoProcess } from '../demo/demo-process.js';

const CHROMIUM = process.env.CRMSYNC_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../test-output/e2e/dashboard.png', import.meta.url));
const RECORD = 'cus-0003';
const LAPTOP_TITLE = 'Head of Rail Procurement';
const REGION_TITLE = 'Director of Logistics';
/** Waits for page state that depends on the nodes syncing (seconds on a slow machine). */
const SYNC_MS = 45_000;

let demo: DemoProcess | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

/** Resolves when the element with `testId` (and the extra attribute selector) exists and is visible. */
const visible = (testId: string, extra = '', timeout = SYNC_MS) =>
  page.locator(`[data-testid="${testId}"]${extra}`).waitFor({ state: 'visible', timeout });

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: apt-get install -y chromium`).toBe(true);
  demo = startDemo(['--port', '0']);
  const [, url] = await demo.waitFor(/^Dashboard: (http:\/\/\S+)$/m, 150_000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url!);
});

afterAll(async () => {
  await browser?.close();
  await demo?.interrupt();
});

describe('demo dashboard', () => {
  it('shows five nodes, converged after seeding', async () => {
    await visible('convergence', '[data-state="converged"]');
    for (const name of ['berlin', 'london', 'newyork', 'laptop-anna', 'laptop-ben']) {
      await visible(`node-card-${name}`);
      expect(await page.getByTestId(`node-records-${name}`).textContent()).toBe('200');
    }
    await expect.poll(() => page.getByTestId('record-check').textContent()).toContain('✓ 200 live');
  });

  it('cuts and restores a region link from the UI', async () => {
    await page.getByTestId('link-toggle-berlin-london').click();
    await visible('link-berlin-london', '[data-state="inactive"]');
    await visible('peer-berlin-london', ':not([data-state="connected"])');
    await page.getByTestId('link-toggle-berlin-london').click();
    await visible('link-berlin-london', '[data-state="up"]');
    await visible('convergence', '[data-state="converged"]');
  });

  it('merges concurrent edits of one field made while a laptop was offline, and lists the conflict', async () => {
    await page.getByTestId('laptop-toggle-laptop-anna').click();
    await visible('laptop-toggle-laptop-anna', '[data-state="offline"]');
    await visible('link-london-laptop-anna', '[data-state="inactive"]');
    await visible('node-online-laptop-anna', ':text-is("offline")');

    await page.locator(`[data-testid="edit-record"] option[value="${RECORD}"]`).waitFor({ state: 'attached' });
    await edit('laptop-anna', LAPTOP_TITLE);
    await edit('berlin', REGION_TITLE);
    await visible('convergence', '[data-state="diverged"]');
    await visible('record-value-laptop-anna', `:text-is("${LAPTOP_TITLE}")`);
    await visible('record-value-london', `:text-is("${REGION_TITLE}")`);
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-diverged.png'), fullPage: true });

    await page.getByTestId('laptop-toggle-laptop-anna').click();
    await visible('laptop-toggle-laptop-anna', '[data-state="online"]');
    await visible('convergence', '[data-state="converged"]');

    const conflict = page.getByTestId(`conflict-${RECORD}-title`);
    await conflict.waitFor({ state: 'visible', timeout: SYNC_MS });
    await expect.poll(() => conflict.textContent(), { timeout: SYNC_MS }).toContain('(5/5)');
    const value = (title: string) => conflict.getByTestId('conflict-value').filter({ hasText: `"${title}"` });
    expect(await value(LAPTOP_TITLE).locator('.author').textContent()).toBe('by laptop-anna');
    expect(await value(REGION_TITLE).locator('.author').textContent()).toBe('by berlin');
    // Exactly one value wins, and every node shows it.
    expect(await conflict.locator('.winner').count()).toBe(1);
    const winner = (await conflict.locator('.winner .value').textContent())!.replace(/"/g, '');
    for (const name of ['berlin', 'london', 'newyork', 'laptop-anna', 'laptop-ben']) {
      await visible(`record-value-${name}`, `:text-is("${winner}")`);
    }
    expect(await page.getByTestId('feed-item').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('node-conflicted-berlin').textContent()).toBe('1');

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('stops every node and removes its data on Ctrl-C', async () => {
    const dataDir = /\(data under (\S+)\)/.exec(demo!.stdout())?.[1];
    expect(dataDir).toBeDefined();
    const pids = [...demo!.stdout().matchAll(/^ {3}(?:berlin|london|newyork|laptop-\w+) +(\d+) +http/gm)].map((m) => Number(m[1]));
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
