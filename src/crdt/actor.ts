/**
 * Automerge actor ids. An actor must write one linear sequence per document, so each
 * process run gets a fresh random incarnation: two processes started from a copied
 * data directory can never share an actor. The node id is embedded so conflicts can
 * name the node that wrote each value.
 */
import type { NodeId } from '../types.js';

const SEPARATOR = '00'; // a zero byte never occurs in a node id (ASCII letters, digits, '-')

/** Makes `hex(nodeId) 00 hex(incarnation)`. `incarnation` is 8 random bytes. */
export function makeActorId(nodeId: NodeId, incarnation: Uint8Array): string {
  return Buffer.from(nodeId, 'utf8').toString('hex') + SEPARATOR + Buffer.from(incarnation).toString('hex');
}

/** Recovers the node id from an actor id made by makeActorId (undefined for foreign actors). */
export function nodeIdOfActor(actor: string): string | undefined {
  for (let i = 0; i + 2 <= actor.length; i += 2) {
    if (actor.slice(i, i + 2) === SEPARATOR) {
      return i === 0 ? undefined : Buffer.from(actor.slice(0, i), 'hex').toString('utf8');
    }
  }
  return undefined;
}
