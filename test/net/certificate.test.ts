import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createNodeCertificate, issueCertificate } from '../../src/net/certificate.js';
import { ed25519KeyOf } from '../../src/net/tls-identity.js';

function ed25519Pem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

describe('createNodeCertificate', () => {
  it('makes a self-signed X.509 v3 certificate for the Ed25519 key, valid from before now with no expiry', async () => {
    const { privateKeyPem, publicKeyPem } = ed25519Pem();
    const pem = await createNodeCertificate(privateKeyPem, 'berlin-1');
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('CN=berlin-1');
    expect(cert.issuer).toBe('CN=berlin-1');
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(Date.now());
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(9999);
    expect(ed25519KeyOf(cert)).toHaveLength(32);
  });

  it('gives every certificate a fresh positive serial number', async () => {
    const { privateKeyPem } = ed25519Pem();
    const serials = await Promise.all([1, 2, 3].map(async () => new X509Certificate(await createNodeCertificate(privateKeyPem, 'n')).serialNumber));
    expect(new Set(serials).size).toBe(3);
    for (const serial of serials) expect(parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
  });

  it('keeps a UTF-8 name intact', async () => {
    const pem = await createNodeCertificate(ed25519Pem().privateKeyPem, 'Zürich Büro');
    expect(new X509Certificate(pem).subject).toBe('CN=Zürich Büro');
  });

  it.each([
    ['an empty name', 'x', ''],
    ['a name over 64 bytes', 'x', 'n'.repeat(65)],
    ['a name with a control character', 'x', 'bad\nname'],
    ['garbage instead of a key', 'not a pem', 'n'],
    ['an RSA key', 'rsa', 'n'],
  ])('refuses %s with ERR_VALIDATION', async (_what, key, name) => {
    const pem = key === 'x' ? ed25519Pem().privateKeyPem
      : key === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
      : key;
    await expect(createNodeCertificate(pem, name)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});

describe('issueCertificate', () => {
  it('signs a leaf with a CA key: the chain verifies, and alt names cover DNS names and IP addresses', async () => {
    const ca = ed25519Pem();
    const leaf = ed25519Pem();
    const caCert = new X509Certificate(await issueCertificate({
      subjectKeyPem: ca.privateKeyPem, subjectName: 'crmsync CA', issuerPrivateKeyPem: ca.privateKeyPem, issuerName: 'crmsync CA', ca: true,
    }));
    const leafCert = new X509Certificate(await issueCertificate({
      subjectKeyPem: leaf.publicKeyPem, subjectName: 'node-a', issuerPrivateKeyPem: ca.privateKeyPem, issuerName: 'crmsync CA',
      altNames: ['node-a.example', '127.0.0.1', '::1'],
    }));
    expect(caCert.ca).toBe(true);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    expect(leafCert.verify(leafCert.publicKey)).toBe(false);
    expect(leafCert.subjectAltName).toBe('DNS:node-a.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leafCert.checkHost('node-a.example')).toBe('node-a.example');
    expect(leafCert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('refuses an alt name that is neither a DNS name nor an IP address', async () => {
    const key = ed25519Pem().privateKeyPem;
    await expect(issueCertificate({ subjectKeyPem: key, subjectName: 'n', issuerPrivateKeyPem: key, issuerName: 'n', altNames: ['bad name!'] }))
      .rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});
