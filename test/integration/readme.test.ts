import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, exec, mustExec } from './helpers.js';

/**
 * The README is an operator's guide: every command it shows must run. The tour block runs as written, the
 * deployment commands run on its results (nginx serves them to a verifying client), every hsm-openssl-ca
 * line names only options its command offers, and the troubleshooting table quotes messages the code prints.
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The fenced block right after `<!-- readme-test: NAME -->`. */
function taggedBlock(name: string, language = 'sh'): string {
  const match = new RegExp(`<!-- readme-test: ${name} -->\\n\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match) throw new Error(`README has no block tagged readme-test: ${name}`);
  return match[1]!;
}

/** Every line of every sh block, continuation lines joined and comments dropped. */
function shellLines(): string[] {
  const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks.flatMap((block) =>
    block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
      .filter(Boolean),
  );
}

/** The hsm-openssl-ca invocations on a line (after `&&`, `||`, `;`, `|` or an env assignment): subcommand words and options. */
function invocations(line: string): Array<{ command: string; options: string[] }> {
  return line
    .split(/&&|\|\||;|\|/)
    .map((part) => part.trim().replace(/^([A-Z_]+=\S+\s+)+/, ''))
    .filter((part) => part.startsWith('hsm-openssl-ca '))
    .map((part) => {
      const words = part.replace(/\[|\]/g, ' ').split(/\s+/).slice(1);
      const command = words[0] === 'audit' ? 'audit verify' : words[0]!;
      return { command, options: words.filter((word) => /^--[a-z]/.test(word)).map((word) => word.replace(/=.*$/, '')) };
    });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('the README', () => {
  let root: string;
  let tour: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hsm-ca-readme-'));
    tour = join(root, 'tour');
    const bin = join(root, 'bin');
    await mkdir(tour);
    await mkdir(bin);
    // `hsm-openssl-ca` on PATH is this checkout's build, as `npm install -g` would make it.
    await writeFile(join(bin, 'hsm-openssl-ca'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
    await chmod(join(bin, 'hsm-openssl-ca'), 0o755);
    env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HSM_CA_') && name !== 'SOFTHSM2_CONF'));
    env['PATH'] = `${bin}:${process.env['PATH']}`;
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('its first-CA tour runs as written and ends with a verified server certificate and its chain', async () => {
    const result = await exec('bash', ['-euo', 'pipefail', '-c', taggedBlock('tour')], { env, cwd: tour });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/hsm-openssl-ca:/) });
    expect(result.stdout).toMatch(/www\.crt: OK/);
    // "prints the root's SHA-256 fingerprint: write it down": the one openssl computes from the root written.
    const fingerprint = (await mustExec('openssl', ['x509', '-in', join(tour, 'ca/certs/root.crt'), '-noout', '-fingerprint', '-sha256'])).trim().split('=')[1]!;
    expect(result.stdout).toContain(fingerprint);
    for (const name of ['www', 'api.tour.test']) {
      const chain = await readFile(join(tour, `${name}.chain.crt`), 'utf8');
      expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    }
    expect((await stat(join(tour, 'api.tour.test.key'))).mode & 0o777).toBe(0o600);
  }, 240_000);

  it('nginx, configured as the README shows, serves the tour certificate and a client trusting only the root verifies it', async () => {
    const port = await freePort();
    const server = taggedBlock('nginx', 'nginx').replaceAll('/etc/nginx/tls', tour).replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`);
    const prefix = join(root, 'nginx');
    await mkdir(prefix);
    const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${join(prefix, name)};`).join(' ');
    await writeFile(
      join(prefix, 'nginx.conf'),
      `daemon off; master_process off; pid ${join(prefix, 'nginx.pid')}; error_log ${join(prefix, 'error.log')};\nevents {}\nhttp { access_log off; ${temps}\n${server}\n}\n`,
    );
    const nginx = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: 'ignore' });
    try {
      let client = { code: 1, stdout: '', stderr: '' };
      for (let attempt = 0; attempt < 50 && client.code !== 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        client = await exec('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'www.tour.test', '-verify_hostname', 'www.tour.test', '-CAfile', join(tour, 'ca/certs/root.crt'), '-verify_return_error', '-showcerts'], { input: '' });
      }
      // OpenSSL 3's verdict lines (the session block's "Verify return code: 0" is printed even after a failure).
      expect({ code: client.code, verdict: /^Verif.*$/m.exec(client.stdout)?.[0], peer: /^Verified peername: .*$/m.exec(client.stdout)?.[0] })
        .toEqual({ code: 0, verdict: 'Verification: OK', peer: 'Verified peername: www.tour.test' });
      expect(client.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    } finally {
      nginx.kill('SIGTERM');
    }
  }, 60_000);

  it("HAProxy loads the README's one-file bundle, and refuses one whose key is not the certificate's", async () => {
    await mustExec('bash', ['-euo', 'pipefail', '-c', taggedBlock('haproxy')], { cwd: tour, env });
    const config = (pem: string) => `global\n  log stdout local0\ndefaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend www\n  bind 127.0.0.1:8443 ssl crt ${pem}\n`;
    await writeFile(join(tour, 'haproxy.cfg'), config(join(tour, 'www.pem')));
    expect((await exec('haproxy', ['-c', '-f', join(tour, 'haproxy.cfg')])).code).toBe(0);
    await mustExec('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tour, 'other.key')]);
    await writeFile(join(tour, 'wrong.pem'), (await readFile(join(tour, 'www.chain.crt'), 'utf8')) + (await readFile(join(tour, 'other.key'), 'utf8')));
    await writeFile(join(tour, 'haproxy-wrong.cfg'), config(join(tour, 'wrong.pem')));
    expect((await exec('haproxy', ['-c', '-f', join(tour, 'haproxy-wrong.cfg')])).code).not.toBe(0);
  }, 60_000);

  it("kubectl makes the README's TLS secret, holding the full chain and the key", async () => {
    await mustExec('bash', ['-euo', 'pipefail', '-c', taggedBlock('kubernetes')], { cwd: tour, env });
    const yaml = await readFile(join(tour, 'www-tls.yaml'), 'utf8');
    const field = (name: string) => Buffer.from(new RegExp(`${name.replace('.', '\\.')}: (\\S+)`).exec(yaml)![1]!, 'base64').toString();
    expect(yaml).toMatch(/type: kubernetes\.io\/tls/);
    expect(field('tls.crt')).toBe(await readFile(join(tour, 'www.chain.crt'), 'utf8'));
    expect(field('tls.key')).toBe(await readFile(join(tour, 'www.key'), 'utf8'));
  }, 60_000);

  it('every hsm-openssl-ca command line names a command that exists and only options that command offers', async () => {
    const calls = shellLines().flatMap(invocations);
    expect(calls.length).toBeGreaterThan(20);
    const helps = new Map<string, string>();
    const unknown: string[] = [];
    for (const { command, options } of calls) {
      if (!helps.has(command)) {
        const help = await exec(process.execPath, [CLI, ...command.split(' '), '--help']);
        helps.set(command, help.code === 0 ? help.stdout : '');
      }
      const help = helps.get(command)!;
      if (help === '') unknown.push(`${command} (no such command)`);
      for (const option of options) if (!new RegExp(`(^|[ ,])${option}\\b(?!-)`, 'm').test(help)) unknown.push(`${command} ${option}`);
    }
    expect(unknown).toEqual([]);
  }, 120_000);

  it("every sc-hsm-tool option the ceremony checklist names is one OpenSC's sc-hsm-tool has", async () => {
    const usage = await exec('sc-hsm-tool', ['--help']);
    const listed = usage.stdout + usage.stderr;
    const named = [...README.matchAll(/`sc-hsm-tool ([^`]*)`/g)].flatMap((match) => match[1]!.split(/\s+/).filter((word) => word.startsWith('--')));
    named.push(...[...README.matchAll(/`(--pwd-shares-[a-z]+)/g)].map((match) => match[1]!));
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((option) => !listed.includes(`${option} `) && !listed.includes(`${option}\n`))).toEqual([]);
  });

  it('every message the troubleshooting table quotes is one the code prints', async () => {
    const table = README.slice(README.indexOf('### Troubleshooting'), README.indexOf('## Real tokens'));
    const quoted = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);
    expect(quoted.length).toBeGreaterThan(8);
    const sources = await sourceTexts(join(REPO, 'src'));
    // A quote's fixed words, between the … that stand for names and values.
    const missing = quoted.flatMap((quote) => quote.split('…').map((piece) => piece.trim()).filter((piece) => piece.length > 3 && !sources.includes(piece)));
    expect(missing).toEqual([]);
  });
});

async function sourceTexts(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
  return (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n');
}
