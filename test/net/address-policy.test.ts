import { describe, expect, it } from 'vitest';
import { isLoopback, linkLocalBlockList, vetDialTargets, type ResolvedAddress } from '../../src/net/address-policy.js';

const resolverOf = (answers: Record<string, ResolvedAddress[]>) => {
  const asked: string[] = [];
  const resolve = (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    return Promise.resolve(answers[hostname] ?? []);
  };
  return { resolve, asked };
};

describe('vetDialTargets', () => {
  const blockList = linkLocalBlockList();

  it.each([
    '169.254.169.254', '169.254.0.1', '::ffff:169.254.169.254', 'fe80::1', 'febf::1', 'fd00:ec2::254', '100.100.100.200',
  ])('refuses the literal address %s with ERR_VALIDATION', async (address) => {
    const { resolve, asked } = resolverOf({});
    await expect(vetDialTargets(address, { resolve, blockList })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(asked).toEqual([]);
  });

  it.each(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data'])('refuses the metadata name %s without resolving it', async (name) => {
    const { resolve, asked } = resolverOf({});
    await expect(vetDialTargets(name, { resolve, blockList })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(asked).toEqual([]);
  });

  it('refuses a name when any of its addresses is link-local', async () => {
    const { resolve } = resolverOf({ 'peer.example': [{ address: '10.0.0.5', family: 4 }, { address: 'fe80::5', family: 6 }] });
    await expect(vetDialTargets('peer.example', { resolve, blockList })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('allows loopback and private ranges and returns every address in order', async () => {
    const answer: ResolvedAddress[] = [{ address: '10.1.2.3', family: 4 }, { address: 'fd00::7', family: 6 }];
    const { resolve } = resolverOf({ 'peer.example': answer });
    await expect(vetDialTargets('peer.example', { resolve, blockList })).resolves.toEqual(answer);
    for (const address of ['127.0.0.1', '::1', '192.168.1.10', '172.16.0.1', 'fec0::1', '100.64.0.1']) {
      await expect(vetDialTargets(address, { resolve, blockList })).resolves.toEqual([{ address, family: address.includes(':') ? 6 : 4 }]);
    }
  });

  it('allows everything without a block list (allowLinkLocal)', async () => {
    const { resolve } = resolverOf({ 'metadata.google.internal': [{ address: '169.254.169.254', family: 4 }] });
    await expect(vetDialTargets('metadata.google.internal', { resolve, blockList: undefined })).resolves.toEqual([{ address: '169.254.169.254', family: 4 }]);
  });

  it('fails a name without addresses with ENOTFOUND', async () => {
    const { resolve } = resolverOf({});
    await expect(vetDialTargets('nowhere.example', { resolve, blockList })).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('isLoopback', () => {
  it.each([['127.0.0.1', true], ['127.9.9.9', true], ['::1', true], ['::ffff:127.0.0.1', true], ['10.0.0.1', false], ['192.0.2.2', false], ['::2', false]])(
    '%s: %s', (address, expected) => expect(isLoopback(address as string)).toBe(expected),
  );
});
