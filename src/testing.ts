/**
 * Test infrastructure for applications and simulations built on crmsync (the
 * `crmsync/testing` entry point), kept apart from the product API in index.ts.
 */
export { MemoryNetwork, type InFlightItem } from './net/memory-transport.js';
