/** Who may do what on the dashboard server: token, Origin and Host checks, the proxy allow-list. */
import { describe, expect, it } from 'vitest';
import { changesState, exposureWarning, isLoopback, proxyAllowed, refusal } from '../../demo/access.js';

const TOKEN = 'demo-token-0123456789';
const HOST = '127.0.0.1:4700';
const ok = { host: HOST, origin: `http://${HOST}`, authorization: `Bearer ${TOKEN}` };

describe('refusal', () => {
  it('lets reads through without a token', () => {
    expect(refusal('GET', { host: HOST }, TOKEN, '127.0.0.1')).toBeUndefined();
  });

  it('needs the token for every state-changing method', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post']) {
      expect(refusal(method, { host: HOST, origin: `http://${HOST}` }, TOKEN, '127.0.0.1')).toMatchObject({ status: 401, code: 'ERR_UNAUTHORIZED' });
      expect(refusal(method, { ...ok, authorization: `Bearer ${TOKEN}x` }, TOKEN, '127.0.0.1')?.status).toBe(401);
      expect(refusal(method, { ...ok, authorization: TOKEN }, TOKEN, '127.0.0.1')?.status).toBe(401);
      expect(refusal(method, { ...ok, authorization: 'Bearer ' }, TOKEN, '127.0.0.1')?.status).toBe(401);
      expect(refusal(method, ok, TOKEN, '127.0.0.1')).toBeUndefined();
    }
  });

  it('refuses cross-origin state changes with 403, even with the token', () => {
    expect(refusal('POST', { ...ok, origin: 'http://evil.example' }, TOKEN, '127.0.0.1')).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    expect(refusal('POST', { ...ok, origin: 'http://127.0.0.1:4701' }, TOKEN, '127.0.0.1')?.status).toBe(403);
    expect(refusal('POST', { ...ok, origin: 'null' }, TOKEN, '127.0.0.1')?.status).toBe(403);
    expect(refusal('POST', { ...ok, 'sec-fetch-site': 'cross-site' }, TOKEN, '127.0.0.1')?.status).toBe(403);
    // A tool that sends no Origin (curl) is judged by the token alone.
    expect(refusal('POST', { host: HOST, authorization: `Bearer ${TOKEN}` }, TOKEN, '127.0.0.1')).toBeUndefined();
  });

  it('answers only to loopback host names while bound to loopback (DNS rebinding)', () => {
    expect(refusal('GET', { host: 'evil.example:4700' }, TOKEN, '127.0.0.1')).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    expect(refusal('GET', {}, TOKEN, '127.0.0.1')?.status).toBe(403);
    for (const host of ['localhost:4700', '127.0.0.1:4700', '[::1]:4700']) expect(refusal('GET', { host }, TOKEN, '127.0.0.1')).toBeUndefined();
    expect(refusal('GET', { host: 'demo.lan:4700' }, TOKEN, '0.0.0.0')).toBeUndefined();
  });
});

describe('proxyAllowed', () => {
  it('allows only the routes the page uses', () => {
    expect(proxyAllowed('PATCH', '/v1/customers/cus-0003')).toBe(true);
    expect(proxyAllowed('POST', '/v1/customers/cus-0003/conflicts/title/resolve')).toBe(true);
    expect(proxyAllowed('POST', '/v1/customers/cus-0003/conflicts/address.city/resolve')).toBe(true);
    for (const [method, path] of [
      ['GET', '/v1/status'], ['GET', '/v1/customers/cus-0003'], ['DELETE', '/v1/customers/cus-0003'], ['PUT', '/v1/customers/cus-0003'],
      ['POST', '/v1/peers'], ['DELETE', '/v1/peers'], ['GET', '/v1/events'], ['POST', '/v1/backup'], ['POST', '/v1/import'],
      ['PATCH', '/v1/customers/'], ['PATCH', '/v1/customers/a/b'], ['PATCH', '/v1/customers/..'], ['PATCH', '/v1/customers/%2e%2e'],
      ['POST', '/v1/customers/x/conflicts/ti%2Ftle/resolve'], ['GET', '/metrics'],
    ] as const) {
      expect(proxyAllowed(method, path), `${method} ${path}`).toBe(false);
    }
    expect(proxyAllowed(undefined, '/v1/customers/x')).toBe(false);
  });
});

describe('loopback', () => {
  it('tells loopback addresses from the rest and warns about the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      expect(isLoopback(host)).toBe(true);
      expect(exposureWarning(host)).toBeUndefined();
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'demo.lan', '127.0.0.1.evil.example']) {
      expect(isLoopback(host)).toBe(false);
      expect(exposureWarning(host)).toMatch(/^WARNING: the dashboard listens on .*beyond this machine/);
    }
  });

  it('knows which methods change state', () => {
    expect(['POST', 'PUT', 'PATCH', 'DELETE'].every(changesState)).toBe(true);
    expect(['GET', 'HEAD', 'OPTIONS', undefined].some(changesState)).toBe(false);
  });
});
