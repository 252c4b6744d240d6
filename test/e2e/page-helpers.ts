/**
 * Helpers for the dashboard's browser test: screenshots under test-output/screenshots/
 * (kept by CI as artefacts) and a WCAG contrast check of every visible text on the page,
 * from the browser's computed styles.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { contrast, over, parseColour, requiredRatio, type Rgba } from '../demo/contrast.js';

/** Where screenshots go (git-ignored; .ci/run prints their paths). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Saves a screenshot as `<name>.png` (a full page from the top, or the viewport as scrolled); returns its path. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = `${SCREENSHOTS}${name}.png`;
  // A full-page shot of a scrolled page paints the sticky header where the viewport was.
  if (fullPage) await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path, fullPage });
  return path;
}

/** One visible text as the browser paints it. */
interface PaintedText {
  text: string;
  color: string;
  /** Background colours from the root down to the element. */
  backgrounds: string[];
  /** Product of the opacities on the way down. */
  opacity: number;
  fontSize: number;
  fontWeight: number;
}

/**
 * Every visible element with its own text (disabled controls are exempt in WCAG). Plain
 * JS run in the page (this project type-checks without the DOM library).
 */
const PAINTED_TEXTS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('').trim();
    if (!own || el.disabled || el.getClientRects().length === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    out.push({
      text: own.slice(0, 40),
      color: el instanceof SVGElement ? style.fill : style.color,
      backgrounds: chain.map((e) => getComputedStyle(e).backgroundColor),
      opacity: chain.reduce((o, e) => o * Number(getComputedStyle(e).opacity), 1),
      fontSize: parseFloat(style.fontSize),
      fontWeight: Number(style.fontWeight),
    });
  }
  return out;
})()`;

function paintedTexts(page: Page): Promise<PaintedText[]> {
  return page.evaluate(PAINTED_TEXTS) as Promise<PaintedText[]>;
}

/** Texts on the page below WCAG AA, described; empty when every text passes. */
export async function contrastFailures(page: Page): Promise<string[]> {
  const failures: string[] = [];
  for (const t of await paintedTexts(page)) {
    const white: Rgba = { r: 255, g: 255, b: 255, a: 1 };
    const bg = t.backgrounds.map(parseColour).reduce((below, layer) => over(layer, below), white);
    const fg = parseColour(t.color);
    const ratio = contrast({ ...fg, a: fg.a * t.opacity }, bg);
    const needed = requiredRatio(t.fontSize, t.fontWeight);
    if (ratio < needed) failures.push(`"${t.text}": ${t.color} on ${t.backgrounds.at(-1)} is ${ratio.toFixed(2)}:1, needs ${needed}:1`);
  }
  return failures;
}
