/**
 * A WebSocket transport that hands the test every peer session its node creates for an
 * accepted connection, so a test can look at a live session's protocol state (how much
 * a peer made it remember). It relies on Peers returning the session from its
 * connection handler; if that changes, `sessions` stays empty and the tests using it fail.
 */
import { resolveLimits, type Limits } from '../../src/limits.js';
import type { Logger } from '../../src/log.js';
import type { Connection, Transport } from '../../src/net/transport.js';
import { createWsTransport, wsLimitsOf } from '../../src/net/ws-transport.js';
import { PeerSession } from '../../src/sync/session.js';

/** A transport for openNode({ transport }) and the sessions it saw accepted (`logger`: where the transport logs refusals). */
export function sessionSpy(limits: Partial<Limits> = {}, logger?: Logger): { transport: Transport; sessions: PeerSession[] } {
  const inner = createWsTransport({ ...wsLimitsOf(resolveLimits(limits)), logger });
  const sessions: PeerSession[] = [];
  const transport: Transport = {
    listen: (address) => inner.listen(address),
    dial: (url, options) => inner.dial(url, options),
    stats: () => inner.stats(),
    close: () => inner.close(),
    onConnection(handler) {
      inner.onConnection((connection: Connection) => {
        const session: unknown = (handler as (c: Connection) => unknown)(connection);
        if (session instanceof PeerSession) sessions.push(session);
      });
    },
  };
  return { transport, sessions };
}
