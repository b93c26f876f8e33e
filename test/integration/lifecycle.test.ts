import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { Cert, Crl, CRL_REASON, OIDS, serialOf } from './certs.js';
import { cli, exec, expectOneLineError, makeCsr, makeSandbox, mustExec, type Sandbox } from './helpers.js';

/** A TLS handshake on loopback; resolves with the client's verdict (or the error code that stopped it). */
async function handshake(server: { key: string; cert: string; requestCert?: boolean; ca?: string }, client: { ca: string; servername?: string; host: string; key?: string; cert?: string; crl?: string[] }): Promise<{ ok: boolean; error?: string; serverSawClient?: boolean }> {
  const listener = tls.createServer({ key: server.key, cert: server.cert, requestCert: server.requestCert ?? false, rejectUnauthorized: server.requestCert ?? false, ca: server.ca }, (socket) => {
    socket.end('hello');
  });
  let serverSawClient: boolean | undefined;
  listener.on('secureConnection', (socket) => {
    serverSawClient = socket.authorized;
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as { port: number }).port;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: client.host, port, servername: client.servername, ca: client.ca, key: client.key, cert: client.cert, crl: client.crl, timeout: 10_000 }, () => {
        socket.once('data', () => {
          socket.end();
          resolve({ ok: true, serverSawClient });
        });
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, error: error.code ?? error.message, serverSawClient }));
      // With TLS 1.3 a server rejects a client certificate after the client's handshake is done: the connection just closes.
      socket.on('close', () => resolve({ ok: false, error: 'closed without data', serverSawClient }));
      socket.on('timeout', () => {
        socket.destroy();
        resolve({ ok: false, error: 'timeout', serverSawClient });
      });
    });
  } finally {
    listener.close();
  }
}

describe('a CA operated for real: profiles, name constraints, revocation, CRLs and real TLS clients', () => {
  let sandbox: Sandbox;
  let dir: string;
  let root: string;
  let intermediate: string;
  const files = (name: string) => ({ csr: join(sandbox.root, `${name}.csr`), key: join(sandbox.root, `${name}.key`), crt: join(sandbox.root, `${name}.crt`) });

  beforeAll(async () => {
    sandbox = await makeSandbox();
    dir = sandbox.caDir;
    for (const args of [
      ['init', '--dir', dir, '--token', sandbox.tokenLabel, '--org', 'Life Co', '--key-type', 'EC:secp256r1', '--crl-url', 'http://pki.life.test/intermediate.crl', '--ca-issuers-url', 'http://pki.life.test/intermediate.crt', '--root-crl-url', 'http://pki.life.test/root.crl'],
      ['root', '--dir', dir],
      ['intermediate', '--dir', dir, '--permit-dns', 'life.test', '--permit-ip', '127.0.0.0/8', '--permit-ip', '::1/128'],
    ]) {
      const result = await cli(args, { env: sandbox.env });
      if (result.code !== 0) throw new Error(result.stderr);
    }
    root = join(dir, 'certs/root.crt');
    intermediate = join(dir, 'intermediate/certs/intermediate.crt');
  });
  afterAll(() => sandbox.cleanup());

  const verify = (crt: string, extra: string[] = []) => exec('openssl', ['verify', ...extra, '-CAfile', root, '-untrusted', intermediate, crt]);

  it('the intermediate carries critical name constraints and the root CRL\'s URL', async () => {
    const cert = await Cert.load(intermediate);
    expect(cert.nameConstraints).toEqual({ critical: true, permitted: ['DNS:life.test', 'IP:127.0.0.0/8', 'IP:::1/128'], excluded: [] });
    expect(cert.crlDistributionPoints).toContain('URI:http://pki.life.test/root.crl');
  });

  it('a server certificate has its SANs (CSR + --san), CRL and CA-issuer URLs, and passes openssl and GnuTLS', async () => {
    const csr = await makeCsr(sandbox.root, 'web', { subject: '/CN=web.life.test', sans: 'DNS:web.life.test' });
    const result = await cli(['server', csr, '--dir', dir, '--san', 'IP:127.0.0.1', '--san', 'DNS:www.life.test'], { env: sandbox.env });
    expect(result.code).toBe(0);
    const cert = await Cert.load(files('web').crt);
    expect(cert.subjectAltNames).toEqual(['DNS:web.life.test', 'IP:127.0.0.1', 'DNS:www.life.test']);
    expect(cert.crlDistributionPoints).toEqual(['URI:http://pki.life.test/intermediate.crl']);
    expect(cert.caIssuers).toEqual(['URI:http://pki.life.test/intermediate.crt']);
    expect(cert.x509.keyUsage).toEqual([OIDS.serverAuth]); // Node's name for extended key usage
    expect((await verify(files('web').crt)).stdout).toMatch(/OK/);
    // The full chain is written beside the certificate: leaf then intermediate, ready for nginx or HAProxy.
    const chain = join(sandbox.root, 'web.chain.crt');
    expect(result.stdout).toContain(`chain    ${chain} (certificate + intermediate`);
    expect(await readFile(chain, 'utf8')).toBe((await readFile(files('web').crt, 'utf8')) + (await readFile(intermediate, 'utf8')));
    const gnutls = await exec('certtool', ['--verify', '--load-ca-certificate', root, '--infile', chain]);
    expect(gnutls.stdout).toMatch(/Chain verification output: Verified/);
  });

  it('Node\'s TLS client accepts the server certificate by DNS name and by IP address, trusting only root.crt', async () => {
    const server = { key: await readFile(files('web').key, 'utf8'), cert: await readFile(join(sandbox.root, 'web.chain.crt'), 'utf8') };
    const ca = await readFile(root, 'utf8');
    await expect(handshake(server, { ca, host: '127.0.0.1', servername: 'www.life.test' })).resolves.toMatchObject({ ok: true });
    await expect(handshake(server, { ca, host: '127.0.0.1' })).resolves.toMatchObject({ ok: true });
    await expect(handshake(server, { ca, host: '127.0.0.1', servername: 'other.life.test' })).resolves.toMatchObject({ ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('refuses a SAN outside the name constraints before the token is touched', async () => {
    const csr = await makeCsr(sandbox.root, 'outside', { sans: 'DNS:outside.example.com' });
    const env = { ...sandbox.env };
    delete env['HSM_CA_PIN'];
    const result = await cli(['server', csr, '--dir', dir], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/DNS:outside.example.com is outside the intermediate's name constraints \(permitted: life.test\)/);
  });

  it('server and server-client refuse 399 days; server --profile server-client has both usages', async () => {
    const csr = await makeCsr(sandbox.root, 'both', { subject: '/CN=both.life.test' });
    for (const profile of ['server', 'server-client']) {
      const refused = await cli(['server', csr, '--dir', dir, '--profile', profile, '--days', '399'], { env: sandbox.env });
      expectOneLineError(refused, /--days 399 is longer than 398 days/);
      expect(refused.code).toBe(2);
    }
    const issued = await cli(['server', csr, '--dir', dir, '--profile', 'server-client'], { env: sandbox.env });
    expect([issued.code, issued.stdout]).toEqual([0, expect.stringMatching(/^server-client certificate issued/)]);
    expect((await Cert.load(files('both').crt)).x509.keyUsage).toEqual([OIDS.serverAuth, OIDS.clientAuth]);
  });

  it('a client certificate works in mutual TLS, with an e-mail SAN and no DNS name needed', async () => {
    const csr = await makeCsr(sandbox.root, 'alice', { subject: '/CN=alice', sans: 'email:alice@life.test' });
    const result = await cli(['client', csr, '--dir', dir, '--days', '500'], { env: sandbox.env });
    expect(result.code).toBe(0);
    const cert = await Cert.load(files('alice').crt);
    expect(cert.x509.keyUsage).toEqual([OIDS.clientAuth]);
    expect(cert.subjectAltNames).toContain('email:alice@life.test');
    const ca = await readFile(root, 'utf8');
    const interPem = await readFile(intermediate, 'utf8');
    const server = { key: await readFile(files('web').key, 'utf8'), cert: (await readFile(files('web').crt, 'utf8')) + interPem, requestCert: true, ca };
    const client = { key: await readFile(files('alice').key, 'utf8'), cert: (await readFile(files('alice').crt, 'utf8')) + interPem };
    await expect(handshake(server, { ca, host: '127.0.0.1', ...client })).resolves.toMatchObject({ ok: true, serverSawClient: true });
    // A server-client certificate works as a client too; GnuTLS accepts both chains.
    const both = { key: await readFile(files('both').key, 'utf8'), cert: (await readFile(files('both').crt, 'utf8')) + interPem };
    await expect(handshake(server, { ca, host: '127.0.0.1', ...both })).resolves.toMatchObject({ ok: true, serverSawClient: true });
    for (const name of ['alice', 'both']) {
      const chain = join(sandbox.root, `${name}-chain.pem`);
      await writeFile(chain, (await readFile(files(name).crt, 'utf8')) + interPem);
      expect((await exec('certtool', ['--verify', '--load-ca-certificate', root, '--infile', chain])).stdout).toMatch(/Chain verification output: Verified/);
    }
    // A server certificate is not a client certificate: the server refuses it for mutual TLS.
    const wrong = { key: await readFile(files('web').key, 'utf8'), cert: (await readFile(files('web').crt, 'utf8')) + interPem };
    await expect(handshake(server, { ca, host: '127.0.0.1', ...wrong })).resolves.toMatchObject({ ok: false });
  });

  it('revoke publishes a CRL that makes openssl, GnuTLS and Node reject the certificate', async () => {
    const serial = await serialOf(files('web').crt);
    const result = await cli(['revoke', serial, '--dir', dir, '--reason', 'keyCompromise'], { env: sandbox.env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/CRL number +4096/);
    expect(await readFile(join(dir, 'intermediate/index.txt'), 'utf8')).toMatch(new RegExp(`^R\\t\\d+Z\\t\\d+Z,keyCompromise\\t${serial}\\t`, 'm'));
    const crl = join(dir, 'intermediate/crl/intermediate.crl.pem');
    expect((await Crl.load(crl)).entries).toContainEqual({ serial, reason: CRL_REASON.keyCompromise });
    const checked = await verify(files('web').crt, ['-crl_check', '-CRLfile', crl]);
    expect(checked.code).not.toBe(0);
    expect(checked.stdout + checked.stderr).toMatch(/certificate revoked/);
    expect((await verify(files('both').crt, ['-crl_check', '-CRLfile', crl])).stdout).toMatch(/OK/);
    const gnutls = await exec('certtool', ['--verify', '--load-ca-certificate', root, '--load-crl', crl, '--infile', join(sandbox.root, 'web.chain.crt')]);
    expect(gnutls.stdout).toMatch(/Chain verification output: Not verified\. The certificate is NOT trusted\. The certificate chain is revoked\./);

    const rootPublished = await cli(['crl', '--root', '--dir', dir], { env: sandbox.env });
    expect([rootPublished.code, rootPublished.stdout]).toEqual([0, expect.stringMatching(/^CRL published: .*\/crl\/root\.crl/)]);
    const rootCrl = await readFile(join(dir, 'crl/root.crl.pem'), 'utf8');
    const ca = await readFile(root, 'utf8');
    const server = { key: await readFile(files('web').key, 'utf8'), cert: (await readFile(files('web').crt, 'utf8')) + (await readFile(intermediate, 'utf8')) };
    await expect(handshake(server, { ca, host: '127.0.0.1', crl: [await readFile(crl, 'utf8'), rootCrl] })).resolves.toMatchObject({ ok: false, error: 'CERT_REVOKED' });
    const bothServer = { key: await readFile(files('both').key, 'utf8'), cert: (await readFile(files('both').crt, 'utf8')) + (await readFile(intermediate, 'utf8')) };
    await expect(handshake(bothServer, { ca, host: '127.0.0.1', servername: 'both.life.test', crl: [await readFile(crl, 'utf8'), rootCrl] })).resolves.toMatchObject({ ok: true });
  });

  it('revoking twice says so, and a later crl gets a higher number', async () => {
    const again = await cli(['revoke', files('web').crt, '--dir', dir], { env: sandbox.env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already revoked .*keyCompromise/);
    const crl = await cli(['crl', '--dir', dir, '--days', '7'], { env: sandbox.env });
    expect(crl.code).toBe(0);
    expect(crl.stdout).toMatch(/CRL number +4097/);
  });

  it('each CRL is published in DER under the name the Distribution Point URL names, the PEM beside it, and check holds them to each other', async () => {
    const published = await cli(['crl', '--dir', dir], { env: sandbox.env });
    expect(published.code).toBe(0);
    const der = join(dir, 'intermediate/crl/intermediate.crl');
    expect(published.stdout).toContain(`copy ${der} to http://pki.life.test/intermediate.crl`);
    const cdp = await mustExec('openssl', ['x509', '-in', files('both').crt, '-noout', '-ext', 'crlDistributionPoints']);
    expect(cdp).toMatch(/URI:http:\/\/pki\.life\.test\/intermediate\.crl$/m);
    const fromDer = await mustExec('openssl', ['crl', '-inform', 'DER', '-in', der, '-outform', 'PEM']);
    expect(fromDer).toBe(await readFile(join(dir, 'intermediate/crl/intermediate.crl.pem'), 'utf8'));
    const held = await cli(['check', '--dir', dir]);
    expect([held.code, held.stdout]).toEqual([0, expect.not.stringMatching(/^(BROKEN|REPAIR) /m)]);
    await rm(der);
    const missing = await cli(['check', '--dir', dir]);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toMatch(/1 finding\(s\) to repair/);
    expect(missing.stdout).toMatch(new RegExp(`^REPAIR  ${der.replace(/[.]/g, '\\.')} is missing`, 'm'));
    expect(missing.stdout).toContain(`hsm-openssl-ca crl --dir ${dir}`);
    expect((await cli(['crl', '--dir', dir], { env: sandbox.env })).code).toBe(0);
    expect((await mustExec('openssl', ['crl', '-inform', 'DER', '-in', der, '-noout', '-crlnumber'])).trim()).toMatch(/^crlNumber=0x/);
    const repaired = await cli(['check', '--dir', dir]);
    expect([repaired.code, repaired.stdout]).toEqual([0, expect.not.stringMatching(/^(BROKEN|REPAIR) /m)]);
  });

  it('revoke --root revokes the intermediate itself on the root CRL', async () => {
    const result = await cli(['revoke', '--root', '--dir', dir, '--reason', 'superseded'], { env: sandbox.env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    const rootCrl = join(dir, 'crl/root.crl.pem');
    const checked = await exec('openssl', ['verify', '-crl_check', '-CAfile', root, '-CRLfile', rootCrl, intermediate]);
    expect(checked.stdout + checked.stderr).toMatch(/certificate revoked/);
    expect(result.stdout).toContain(`copy ${join(dir, 'crl/root.crl')} to http://pki.life.test/root.crl`);
    const derChecked = await exec('openssl', ['verify', '-crl_check', '-CAfile', root, '-CRLfile', join(dir, 'crl/root.crl'), intermediate]);
    expect(derChecked.stdout + derChecked.stderr).toMatch(/certificate revoked/);
  });
});
