import { describe, expect, it } from 'vitest';
import {
  HandlerSlot, MAX_EARLY_FRAMES, assertCloseCode, truncateReason, type HandlerSlotOwner,
} from '../../src/net/connection-support.js';

function slotWith(maxEarlyBytes = 1_000_000) {
  const events: string[] = [];
  const owner: HandlerSlotOwner = {
    maxEarlyBytes,
    onEarlyOverflow: () => events.push('overflow'),
    onHandlerError: (_err, phase) => events.push(`error:${phase}`),
  };
  const slot = new HandlerSlot(owner);
  const handlers = {
    onFrame: (frame: Uint8Array) => { events.push(`frame:${frame[0]}`); },
    onClose: (code: number, reason: string) => { events.push(`close:${code}:${reason}`); },
  };
  return { slot, events, handlers };
}

describe('HandlerSlot', () => {
  it('delivers buffered frames in order, then a buffered close, on install', () => {
    const { slot, events, handlers } = slotWith();
    slot.frame(new Uint8Array([1]));
    slot.frame(new Uint8Array([2]));
    slot.closed(1000, 'bye');
    slot.frame(new Uint8Array([3])); // after the close: ignored
    expect(events).toEqual([]);
    slot.install(handlers);
    expect(events).toEqual(['frame:1', 'frame:2', 'close:1000:bye']);
  });

  it('calls onClose exactly once; the first close wins', () => {
    const { slot, events, handlers } = slotWith();
    slot.install(handlers);
    slot.closed(4000, 'first');
    slot.closed(1000, 'second');
    expect(events).toEqual(['close:4000:first']);
  });

  it('stops delivering buffered frames once a handler closed the connection', () => {
    const { slot, events } = slotWith();
    slot.frame(new Uint8Array([1]));
    slot.frame(new Uint8Array([2]));
    slot.install({
      onFrame: (frame) => { events.push(`frame:${frame[0]}`); slot.closed(1008, 'policy'); },
      onClose: (code) => { events.push(`close:${code}`); },
    });
    expect(events).toEqual(['frame:1', 'close:1008']);
  });

  it('reports overflow past MAX_EARLY_FRAMES or maxEarlyBytes', () => {
    const byCount = slotWith();
    for (let i = 0; i <= MAX_EARLY_FRAMES; i++) byCount.slot.frame(new Uint8Array(1));
    expect(byCount.events).toEqual(['overflow']);
    const byBytes = slotWith(10);
    byBytes.slot.frame(new Uint8Array(6));
    byBytes.slot.frame(new Uint8Array(6));
    expect(byBytes.events).toEqual(['overflow']);
  });

  it('reports a throwing handler to the owner instead of throwing', () => {
    const { slot, events } = slotWith();
    slot.install({ onFrame: () => { throw new Error('bug'); }, onClose: () => { throw new Error('bug'); } });
    slot.frame(new Uint8Array([1]));
    slot.closed(1000, '');
    expect(events).toEqual(['error:frame', 'error:close']);
  });

  it('refuses a second install', () => {
    const { slot, handlers } = slotWith();
    slot.install(handlers);
    expect(() => slot.install(handlers)).toThrow(TypeError);
  });
});

describe('close codes and reasons', () => {
  it('accepts only codes that may be sent in a close frame', () => {
    for (const code of [1000, 1002, 1009, 1011, 3000, 4000, 4999]) expect(() => assertCloseCode(code)).not.toThrow();
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000, 1000.5]) expect(() => assertCloseCode(code)).toThrow(TypeError);
  });

  it('truncates reasons to 123 bytes without splitting a character', () => {
    expect(truncateReason('short')).toBe('short');
    const cut = truncateReason('é'.repeat(100)); // 200 bytes
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).toBe('é'.repeat(61));
  });
});
