/**
 * Every colour pair in demo/public/style.css meets WCAG AA. A rule's text colour is
 * checked on its own background, or on each background its `on:` comment names; a
 * background without a text colour is checked with --ink, or the colour its `text:`
 * comment names, unless it is marked `decorative` (see the comment atop style.css).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AA_LARGE, AA_NORMAL, contrast, parseColour, requiredRatio } from './contrast.js';

const CSS = readFileSync(fileURLToPath(new URL('../../demo/public/style.css', import.meta.url)), 'utf8');

interface Rule {
  selector: string;
  decls: Map<string, string>;
  notes: string[];
}

/** Plain rules (those inside @media too); comments in a rule's body are its notes. */
function parseRules(css: string): Rule[] {
  return [...css.matchAll(/([^{}]+)\{([^{}]*)\}/g)].map(([, selector, body]) => {
    const notes = [...body!.matchAll(/\/\*([\s\S]*?)\*\//g)].map((m) => m[1]!.trim());
    const decls = new Map(body!.replace(/\/\*[\s\S]*?\*\//g, '').split(';').map((d) => d.trim()).filter(Boolean)
      .map((d) => [d.slice(0, d.indexOf(':')).trim(), d.slice(d.indexOf(':') + 1).trim()] as [string, string]));
    return { selector: selector!.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^[\s\S]*\{/, '').trim(), decls, notes };
  });
}

const rules = parseRules(CSS);
const vars = new Map([...rules.find((r) => r.selector === ':root')!.decls].filter(([k]) => k.startsWith('--')));

/** A colour value with var() resolved. */
function resolve(value: string): string {
  const ref = /^var\((--[\w-]+)\)$/.exec(value.trim());
  if (!ref) return value.trim();
  const next = vars.get(ref[1]!);
  if (next === undefined) throw new TypeError(`undefined custom property ${ref[1]}`);
  return resolve(next);
}

const note = (rule: Rule, key: string) => rule.notes.find((n) => n.startsWith(`${key}:`))?.slice(key.length + 1).split(',').map((s) => s.trim());

interface Pair {
  selector: string;
  fg: string;
  bg: string;
  ratio: number;
  needed: number;
}

/** Every (text, background) pair style.css declares, and the rules that set a text colour with no known background. */
function pairs(): { checked: Pair[]; unpaired: string[] } {
  const checked: Pair[] = [];
  const unpaired: string[] = [];
  for (const rule of rules) {
    // WCAG exempts disabled controls; 'decorative' surfaces hold no text.
    if (rule.selector.includes(':disabled') || rule.notes.includes('decorative')) continue;
    const fg = rule.decls.get('color') ?? (/\btext$/.test(rule.selector) ? rule.decls.get('fill') : undefined);
    const bg = rule.decls.get('background-color') ?? rule.decls.get('background');
    const size = parseFloat(rule.decls.get('font-size') ?? '14');
    const weight = Number(rule.decls.get('font-weight') ?? 400);
    const check = (text: string, surface: string) => {
      const [f, b] = [resolve(text), resolve(surface)];
      checked.push({ selector: rule.selector, fg: f, bg: b, ratio: contrast(parseColour(f), parseColour(b)), needed: requiredRatio(size, weight) });
    };
    if (fg && bg) check(fg, bg);
    else if (fg) {
      const surfaces = note(rule, 'on');
      if (surfaces) surfaces.forEach((s) => check(fg, s));
      else unpaired.push(rule.selector);
    } else if (bg) (note(rule, 'text') ?? ['var(--ink)']).forEach((t) => check(t, bg));
  }
  return { checked, unpaired };
}

describe('contrast computation', () => {
  it('gives the known WCAG ratios', () => {
    expect(contrast(parseColour('#000'), parseColour('#ffffff'))).toBeCloseTo(21, 5);
    expect(contrast(parseColour('#ffffff'), parseColour('#ffffff'))).toBe(1);
    expect(contrast(parseColour('#777777'), parseColour('#fff'))).toBeCloseTo(4.48, 2);
    expect(contrast(parseColour('rgb(0, 0, 0)'), parseColour('rgb(255 255 255)'))).toBeCloseTo(21, 5);
    // Half-transparent black on white is mid grey.
    expect(contrast(parseColour('rgba(0, 0, 0, 0.5)'), parseColour('#fff'))).toBeCloseTo(3.98, 1);
    expect(requiredRatio(14, 400)).toBe(AA_NORMAL);
    expect(requiredRatio(24, 400)).toBe(AA_LARGE);
    expect(requiredRatio(19, 700)).toBe(AA_LARGE);
    expect(requiredRatio(19, 400)).toBe(AA_NORMAL);
  });

  it('refuses colours it cannot read instead of guessing', () => {
    for (const bad of ['red', '#12', '#ggg', 'hsl(0 0% 0%)', 'var(--x)', '']) expect(() => parseColour(bad)).toThrow(TypeError);
  });
});

describe('demo/public/style.css', () => {
  it('meets WCAG AA for every colour pair it declares', () => {
    const { checked, unpaired } = pairs();
    expect(unpaired, 'rules with a text colour but no background (add an `on:` comment)').toEqual([]);
    // The parser really found the stylesheet's pairs (a broken parse would check nothing).
    expect(checked.length).toBeGreaterThan(60);
    const failing = checked.filter((p) => p.ratio < p.needed).map((p) => `${p.selector}: ${p.fg} on ${p.bg} is ${p.ratio.toFixed(2)}:1, needs ${p.needed}:1`);
    expect(failing).toEqual([]);
  });

  it('resolves every custom property a colour pair uses', () => {
    expect(() => resolve('var(--no-such-colour)')).toThrow(/undefined custom property/);
    expect(resolve('var(--muted)')).toBe('#545d6e');
  });
});
