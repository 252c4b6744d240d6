/**
 * WsConnection's heartbeat and flow control on a scripted socket and fake timers:
 * only a pong proves liveness, and a connection we stopped reading is not blamed for
 * pongs it cannot deliver.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Admission, isRefusal } from '../../src/net/admission.js';
import { InboundBudget } from '../../src/net/flow-control.js';
import { CloseCode } from '../../src/net/transport.js';
import { WsConnection } from '../../src/net/ws-connection.js';
import { record } from './helpers.js';

const HEARTBEAT = 1000;

/** The parts of a ws WebSocket that WsConnection uses, scripted. */
class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  binaryType = 'nodebuffer';
  readonly calls: string[] = [];
  ping(): void { this.calls.push('ping'); }
  pause(): void { this.calls.push('pause'); }
  resume(): void { this.calls.push('resume'); }
  send(_data: unknown, _options: unknown, done?: () => void): void { done?.(); }
  close(): void { this.calls.push('close'); this.readyState = 2; }
  terminate(): void {
    this.calls.push('terminate');
    this.readyState = 3;
    this.emit('close', 1006, Buffer.alloc(0));
  }
  /** The peer sends a binary frame of `bytes` bytes. */
  frame(bytes: number): void { this.emit('message', Buffer.alloc(bytes), true); }
}

function connection(maxInboundBytesPerConnection = 1_000_000) {
  const socket = new FakeSocket();
  const slot = new Admission({ maxConnections: 10, maxConnectionsPerAddress: 10, maxUnauthenticatedConnections: 10 }).admitInbound('10.0.0.1');
  if (isRefusal(slot)) throw new Error('refused');
  const conn = new WsConnection(socket as unknown as WebSocket, {
    id: 'c1', direction: 'inbound', remoteAddress: '10.0.0.1:1', maxFrameBytes: 1000, sendHighWaterBytes: 1000, heartbeatMs: HEARTBEAT,
    logger: silentLogger(), peerKey: undefined, channelBinding: undefined, slot,
    budget: new InboundBudget({ maxInboundBytesPerConnection, maxInboundBytesTotal: 10_000_000 }),
  });
  return { socket, conn };
}

describe('WsConnection heartbeat', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('terminates a peer that keeps sending data but never answers a ping, at the second beat, with 4004', async () => {
    const { socket, conn } = connection();
    const recording = record(conn);
    vi.advanceTimersByTime(HEARTBEAT);
    expect(socket.calls).toEqual(['ping']);
    for (let i = 0; i < 10; i++) socket.frame(10);
    vi.advanceTimersByTime(HEARTBEAT);
    expect(socket.calls).toEqual(['ping', 'terminate']);
    expect(await recording.closed).toEqual({ code: CloseCode.heartbeatTimeout, reason: 'heartbeat timeout' });
    expect(recording.frames).toHaveLength(10);
  });

  it('keeps a peer that answers every ping', () => {
    const { socket, conn } = connection();
    record(conn);
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(HEARTBEAT);
      socket.emit('pong');
    }
    expect(socket.calls).toEqual(['ping', 'ping', 'ping', 'ping', 'ping']);
    expect(conn.isOpen).toBe(true);
  });

  it('neither pings nor blames the peer while we do not read; the check resumes with reading', async () => {
    const { socket, conn } = connection(100);
    const recording = record(conn, { process: false });
    vi.advanceTimersByTime(HEARTBEAT);
    expect(socket.calls).toEqual(['ping']); // its pong will be stuck behind what we stop reading
    socket.frame(150);
    expect(socket.calls).toEqual(['ping', 'pause']);
    vi.advanceTimersByTime(5 * HEARTBEAT);
    expect(socket.calls).toEqual(['ping', 'pause']);
    expect(conn.isOpen).toBe(true);
    recording.processAll();
    expect(socket.calls).toEqual(['ping', 'pause', 'resume']);
    vi.advanceTimersByTime(HEARTBEAT);
    vi.advanceTimersByTime(HEARTBEAT);
    expect(socket.calls).toEqual(['ping', 'pause', 'resume', 'ping', 'terminate']);
    expect((await recording.closed).code).toBe(CloseCode.heartbeatTimeout);
  });

  it('reads again when it closes while paused, so the peer\'s close frame can arrive', () => {
    const { socket, conn } = connection(100);
    record(conn, { process: false });
    socket.frame(150);
    conn.close(CloseCode.normal, 'bye');
    expect(socket.calls).toEqual(['pause', 'resume', 'close']);
  });
});
