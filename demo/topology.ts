/**
 * The demo's cast: three regional offices that all dial each other (a full mesh, so
 * cutting one region link leaves a path through the third) and two laptops that each
 * dial one region only (so a laptop going offline is an island of one).
 */

/** What a node is in the story. */
export type Role = 'region' | 'laptop';

/** One node of the demo cluster. */
export interface NodeSpec {
  name: string;
  role: Role;
  /** Shown on the dashboard card. */
  label: string;
  /** Names of the nodes this one dials (adds as peers). */
  dials: string[];
}

/** An undirected link between two nodes; `kind` says which control toggles it. */
export interface LinkSpec {
  a: string;
  b: string;
  kind: Role;
}

/** The default cast. */
export const NODES: readonly NodeSpec[] = [
  { name: 'berlin', role: 'region', label: 'Berlin office', dials: ['london', 'newyork'] },
  { name: 'london', role: 'region', label: 'London office', dials: ['berlin', 'newyork'] },
  { name: 'newyork', role: 'region', label: 'New York office', dials: ['berlin', 'london'] },
  { name: 'laptop-anna', role: 'laptop', label: "Anna's laptop (sales, EMEA)", dials: ['london'] },
  { name: 'laptop-ben', role: 'laptop', label: "Ben's laptop (sales, US)", dials: ['newyork'] },
];

/** Every link of a cast, once per pair, in a stable order (a before b as in the cast). */
export function linksOf(nodes: readonly NodeSpec[]): LinkSpec[] {
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  const seen = new Set<string>();
  const links: LinkSpec[] = [];
  for (const node of nodes) {
    for (const other of node.dials) {
      const [a, b] = (order.get(node.name) ?? 0) <= (order.get(other) ?? 0) ? [node.name, other] : [other, node.name];
      const key = linkKey(a, b);
      if (seen.has(key)) continue;
      seen.add(key);
      const laptop = nodes.find((n) => (n.name === a || n.name === b) && n.role === 'laptop');
      links.push({ a, b, kind: laptop ? 'laptop' : 'region' });
    }
  }
  return links;
}

/** The key of an undirected link, independent of argument order. */
export function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
