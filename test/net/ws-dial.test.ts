/**
 * Where the WebSocket transport dials: link-local and metadata addresses are refused
 * (by literal, by name, and by what a name resolves to, through an injected resolver,
 * never the real DNS), the connection goes to the address that was checked, and the
 * bearer token goes only where it is safe.
 */
import { describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../../src/net/address-policy.js';
import { tokenAllowed } from '../../src/net/ws-dial.js';
import { wsHarness } from './ws-harness.js';

describe('ws dial policy', () => {
  const { make, listening } = wsHarness();

  /** A resolver answering from a list of answers, one per call (the last one repeats). */
  function scriptedResolver(...answers: ResolvedAddress[][]) {
    const asked: string[] = [];
    const resolve = (hostname: string): Promise<ResolvedAddress[]> => {
      asked.push(hostname);
      return Promise.resolve(answers[Math.min(asked.length - 1, answers.length - 1)] ?? []);
    };
    return { resolve, asked };
  }

  it.each([
    'ws://169.254.169.254/latest/meta-data', 'ws://[fe80::1]:4000', 'wss://[fd00:ec2::254]/', 'ws://100.100.100.200:80',
    'ws://[::ffff:169.254.169.254]:80', 'ws://metadata.google.internal/', 'ws://METADATA.GOOGLE.INTERNAL./',
  ])('refuses %s with ERR_VALIDATION', async (url) => {
    const { resolve, asked } = scriptedResolver([{ address: '127.0.0.1', family: 4 }]);
    await expect(make({ resolve }).dial(url)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(asked).toEqual([]);
  });

  it('refuses a name that resolves to a metadata address, and keeps no connection slot for it', async () => {
    const { port, accepted } = await listening();
    const { resolve, asked } = scriptedResolver([{ address: '169.254.169.254', family: 4 }]);
    const client = make({ resolve, maxConnections: 1 });
    await expect(client.dial(`ws://sneaky.example:${port}`)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(client.dial(`ws://sneaky.example:${port}`)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(asked).toEqual(['sneaky.example', 'sneaky.example']);
    expect(accepted.connections).toHaveLength(0);
    await client.dial(`ws://127.0.0.1:${port}`); // the one slot is still free
  });

  it('connects to the address it checked: a second DNS answer cannot swap it (no rebinding)', async () => {
    const { port, accepted } = await listening();
    const { resolve, asked } = scriptedResolver([{ address: '127.0.0.1', family: 4 }], [{ address: '169.254.169.254', family: 4 }]);
    const client = make({ resolve });
    // .invalid never resolves in the system DNS, so success proves nothing else looked the name up.
    const connection = await client.dial(`ws://peer.invalid:${port}`);
    await accepted.next();
    expect(connection.remoteAddress).toBe(`peer.invalid:${port}`);
    expect(asked).toEqual(['peer.invalid']);
    await expect(client.dial(`ws://peer.invalid:${port}`)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('tries the next vetted address when one refuses (a name with ::1 and 127.0.0.1, served on IPv4 only)', async () => {
    const { port, accepted } = await listening();
    const { resolve } = scriptedResolver([{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]);
    await make({ resolve }).dial(`ws://dual.invalid:${port}`);
    await accepted.next();
  });

  it('dials link-local and metadata names when allowLinkLocal is set', async () => {
    const { port, accepted } = await listening();
    const { resolve } = scriptedResolver([{ address: '127.0.0.1', family: 4 }]);
    await make({ resolve, allowLinkLocal: true }).dial(`ws://metadata.google.internal:${port}`);
    await accepted.next();
  });

  it.each(['not a url', 'http://127.0.0.1:80', 'mem://a', 'ftp://x'])('refuses the URL %j with ERR_VALIDATION', async (url) => {
    const client = make({ maxConnections: 1 });
    await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(client.stats().connections).toBe(0);
  });

  it('allows the token in clear only to loopback, and over TLS only to an accepted server', () => {
    expect(tokenAllowed(false, false, '127.0.0.1')).toBe(true);
    expect(tokenAllowed(false, false, '::1')).toBe(true);
    expect(tokenAllowed(false, true, '10.0.0.7')).toBe(false);
    expect(tokenAllowed(false, false, '192.0.2.2')).toBe(false);
    expect(tokenAllowed(true, false, '127.0.0.1')).toBe(false);
    expect(tokenAllowed(true, true, '203.0.113.9')).toBe(true);
  });
});
