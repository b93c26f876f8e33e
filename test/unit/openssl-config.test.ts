import { describe, it, expect } from '@jest/globals';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { opensslConfigValue, renderTemplate, renderTemplates, templateDirectory, type TemplateName } from '../../src/openssl-config.js';
import { UsageError } from '../../src/errors.js';

/*
 * Golden files live in test/fixtures/golden/. To regenerate them after an intended template change run
 *   UPDATE_GOLDEN=1 node --experimental-vm-modules node_modules/jest/bin/jest.js test/unit/openssl-config.test.ts
 * and review the diff by eye: they are the exact text openssl reads.
 */
const GOLDEN_DIR = new URL('../fixtures/golden/', import.meta.url);
const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

function golden(file: string, actual: string): string {
  const url = new URL(file, GOLDEN_DIR);
  if (UPDATE_GOLDEN) writeFileSync(url, actual);
  return readFileSync(url, 'utf8');
}

const TEMPLATE_NAMES: readonly TemplateName[] = [
  'create_root_cert.ini',
  'create_intermediate_csr.ini',
  'sign_intermediate_csr.ini',
  'sign_server_csrs.ini',
  'profiles/server.ini',
  'profiles/client.ini',
  'profiles/server-client.ini',
  'openssl_engine.cnf',
  'openssl_provider.cnf',
];

const SUBJECT = {
  country: 'US',
  state: 'California',
  organization: 'Example Org',
  organizationalUnit: 'Example Org Certificate Authority',
} as const;

const CA_DIR = '/home/ca/example-ca';
const ROOT_KEY_URI =
  'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=5c0ab1c3a8f1e2d4;token=example-ca;id=%E0%16%1C%C8%B6%F5%D6%6A%C6%83%5E%CD%EC%B6%23%FC%05%06%A6%75;object=root-ca-key;type=private';
const INTERMEDIATE_KEY_URI =
  'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=5c0ab1c3a8f1e2d4;token=example-ca;id=%3B%7A%90%11%C2%4D%E8%05%6B%2F%AA%31%0E%77%D4%92%58%60%1C%0D;object=intermediate-ca-key;type=private';

/** What src/ca/signing/issue.ts passes for a leaf: the CA part and the profile's extension section share it. */
const LEAF_CONTEXT = {
  profile: 'server',
  extensions: 'server_cert',
  privateKeyUri: INTERMEDIATE_KEY_URI,
  certificate: `${CA_DIR}/intermediate/certs/intermediate.crt`,
  digest: 'sha512',
  keyUsage: 'digitalSignature',
  subjectPolicy: ['organizationName', 'organizationalUnitName'],
  copyExtensions: 'none',
  sans: [
    { type: 'DNS', index: 1, value: 'www.example.com' },
    { type: 'IP', index: 2, value: '10.0.0.1' },
    { type: 'email', index: 3, value: 'ops@example.com' },
  ],
  crlUrl: 'http://pki.example.com/intermediate.crl',
  caIssuersUrl: 'http://pki.example.com/intermediate.crt',
  dir: `${CA_DIR}/intermediate`,
};

/** The contexts src/ca/signing/root.ts, intermediate.ts and issue.ts (via sign.ts) pass. */
const CONTEXTS: Record<TemplateName, object> = {
  'create_root_cert.ini': { dir: CA_DIR, digest: 'sha512', subject: SUBJECT, commonName: 'Example Org Root CA' },
  'create_intermediate_csr.ini': { digest: 'sha512', subject: SUBJECT, commonName: 'Example Org Intermediate CA' },
  'sign_intermediate_csr.ini': {
    privateKeyUri: ROOT_KEY_URI,
    certificate: `${CA_DIR}/certs/root.crt`,
    digest: 'sha512',
    dir: CA_DIR,
    rootCrlUrl: 'http://pki.example.com/root.crl',
    nameConstraints: [
      { subtree: 'permitted', type: 'DNS', index: 1, value: 'example.com' },
      { subtree: 'permitted', type: 'IP', index: 2, value: '10.0.0.0/255.0.0.0' },
    ],
    pathlen: 0,
    foreignSubject: false,
  },
  'sign_server_csrs.ini': LEAF_CONTEXT,
  'profiles/server.ini': LEAF_CONTEXT,
  'profiles/client.ini': { ...LEAF_CONTEXT, profile: 'client', extensions: 'client_cert', crlUrl: '', caIssuersUrl: '' },
  'profiles/server-client.ini': { ...LEAF_CONTEXT, profile: 'server-client', extensions: 'server_client_cert', keyUsage: 'digitalSignature, keyEncipherment' },
  'openssl_engine.cnf': { module: '/usr/lib/softhsm/libsofthsm2.so' },
  'openssl_provider.cnf': { module: '/usr/lib/softhsm/libsofthsm2.so', quirks: 'no-deinit' },
};

/**
 * A model of how OpenSSL's NCONF parser (crypto/conf/conf_def.c) reads the value part of `name = value`:
 * `#` starts a comment unless escaped or quoted, trailing whitespace is dropped, quotes are removed,
 * `\x` stands for x, and `$name` / `${name}` are variable expansions. Returns the value OpenSSL would
 * store, or throws when the value would expand a variable or ends in a dangling backslash.
 */
function opensslReads(rawValue: string): string {
  // clear_comments(): cut at the first unquoted, unescaped '#'.
  let end = rawValue.length;
  for (let i = 0; i < rawValue.length; i += 1) {
    const c = rawValue[i];
    if (c === '\\') i += 1;
    else if (c === '"' || c === "'") {
      const close = rawValue.indexOf(c, i + 1);
      i = close === -1 ? rawValue.length : close;
    } else if (c === '#') {
      end = i;
      break;
    }
  }
  const text = rawValue.slice(0, end).replace(/[ \t]+$/, '');
  // str_copy()
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const close = text.indexOf(c, i + 1);
      out += text.slice(i + 1, close === -1 ? text.length : close);
      i = close === -1 ? text.length : close;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('dangling backslash: OpenSSL joins the next line');
      const next = text[i + 1]!;
      out += ({ n: '\n', r: '\r', b: '\b', t: '\t' } as Record<string, string>)[next] ?? next;
      i += 1;
    } else if (c === '$') {
      throw new Error(`unescaped $ at ${i}: OpenSSL would expand a variable`);
    } else out += c;
  }
  return out;
}

/** The characters of `rawValue` OpenSSL treats specially and that are not escaped. */
function unescapedSpecials(rawValue: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < rawValue.length; i += 1) {
    const c = rawValue[i]!;
    if (c === '\\') {
      if (i + 1 >= rawValue.length) found.push('trailing \\');
      i += 1;
    } else if ('$#"\''.includes(c)) found.push(c);
  }
  return found;
}

describe('opensslConfigValue', () => {
  const HOSTILE: ReadonlyArray<[string, string]> = [
    ['$', '\\$'],
    ['$ENV::HOME', '\\$ENV::HOME'],
    ['${dir}', '\\${dir}'],
    ['$dir/../../etc', '\\$dir/../../etc'],
    ['#', '\\#'],
    ['Example # not a comment', 'Example \\# not a comment'],
    [';', ';'],
    ['a; b', 'a; b'],
    ['"x"', '\\"x\\"'],
    ["'x'", "\\'x\\'"],
    ["O'Reilly \"Media\"", "O\\'Reilly \\\"Media\\\""],
    ['back\\slash', 'back\\\\slash'],
    ['trailing\\', 'trailing\\\\'],
    ['\\n is not a newline', '\\\\n is not a newline'],
    ['=', '='],
    ['a = b', 'a = b'],
    ['[ ]', '[ ]'],
    ['[ v3_ca ]', '[ v3_ca ]'],
    ['Müller GmbH', 'Müller GmbH'],
    ['東京 株式会社', '東京 株式会社'],
    ['A'.repeat(70), 'A'.repeat(70)],
    ['$'.repeat(64) + '#'.repeat(64), '\\$'.repeat(64) + '\\#'.repeat(64)],
  ];

  it.each(HOSTILE)('escapes %j as %j', (value, escaped) => {
    expect(opensslConfigValue(value, '--org')).toBe(escaped);
  });

  it.each(HOSTILE)('%j reads back unchanged through the OpenSSL config grammar', (value) => {
    const escaped = opensslConfigValue(value, '--org');
    expect(unescapedSpecials(escaped)).toEqual([]);
    expect(opensslReads(escaped)).toBe(value);
  });

  it('leaves ordinary values alone and accepts numbers', () => {
    expect(opensslConfigValue('Example Org Root CA')).toBe('Example Org Root CA');
    expect(opensslConfigValue('/usr/lib/softhsm/libsofthsm2.so')).toBe('/usr/lib/softhsm/libsofthsm2.so');
    expect(opensslConfigValue(3)).toBe('3');
  });

  it('calls a value without a field name "a value" in its refusal', () => {
    expect(() => opensslConfigValue(undefined)).toThrow(/^a value is missing; it must be text for the OpenSSL config$/);
    expect(() => opensslConfigValue(' x')).toThrow(/^a value " x" starts or ends with a space; remove it$/);
  });

  const REFUSED: ReadonlyArray<[string, string]> = [
    ['newline', 'Example\nCN = evil'],
    ['carriage return', 'Example\rOrg'],
    ['CRLF', 'Example\r\n'],
    ['NUL', 'Example\0Org'],
    ['tab', 'Example\tOrg'],
    ['DEL', 'Example\x7fOrg'],
    ['escape', '\x1b[31mred'],
    ['leading space', ' Example'],
    ['trailing space', 'Example '],
    ['only spaces', '   '],
  ];

  it.each(REFUSED)('refuses a value with a %s, naming the field', (_what, value) => {
    expect(() => opensslConfigValue(value, '--org')).toThrow(UsageError);
    expect(() => opensslConfigValue(value, '--org')).toThrow(/--org/);
  });

  it.each([undefined, null, true, {}, ['a']])('refuses a non-text value %p as missing', (value) => {
    expect(() => opensslConfigValue(value, '--org-unit')).toThrow(UsageError);
    expect(() => opensslConfigValue(value, '--org-unit')).toThrow(/--org-unit is missing/);
  });
});

// First among the rendering tests, on purpose: a template is compiled once per test file and then cached, so
// these are the tests that run its compilation (and the ones mutation testing credits with the compile options).
describe('renderTemplate compiles strictly and without HTML escaping', () => {
  it('writes & < > " \' = ` as they are: an OpenSSL config is not HTML', async () => {
    const organization = 'A & B <C> "D" \'E\' =F `G`';
    const text = await renderTemplate('create_root_cert.ini', { ...CONTEXTS['create_root_cert.ini'], subject: { ...SUBJECT, organization } });
    expect(text).toContain(`\nO                   = ${opensslConfigValue(organization)}\n`);
  });

  it('refuses a context without its SAN list instead of rendering a config without SANs (strict templates)', async () => {
    const { sans: _sans, ...withoutSans } = CONTEXTS['sign_server_csrs.ini'] as Record<string, unknown>;
    // Which error does not matter (a programming mistake, not user input): that nothing is rendered does.
    await expect(renderTemplate('sign_server_csrs.ini', withoutSans)).rejects.toThrow();
  });
});

describe('renderTemplate with hostile values', () => {
  const HOSTILE = [
    '$',
    '$ENV::HOME',
    '${dir}',
    '#',
    ';',
    '"x"',
    "'x'",
    'back\\slash',
    'trailing\\',
    '=',
    '[ ]',
    'Müller GmbH',
    'Ünïcödé Örgänisation with a name longer than sixty-four characters',
    'A $HOME # "quoted" \'single\' \\ = [ section ] ; mix',
  ];

  it.each(HOSTILE)('writes organisation %j as one escaped O line that reads back unchanged', async (organization) => {
    const text = await renderTemplate('create_root_cert.ini', {
      ...CONTEXTS['create_root_cert.ini'],
      subject: { ...SUBJECT, organization },
    });
    const lines = text.split('\n').filter((line) => /^O\s+=/.test(line));
    expect(lines).toHaveLength(1);
    const raw = lines[0]!.replace(/^O\s+= /, '');
    expect(raw).toBe(opensslConfigValue(organization));
    expect(unescapedSpecials(raw)).toEqual([]);
    expect(opensslReads(raw)).toBe(organization);
    // Nothing else moved: the rest of the file is the golden text with only the O line changed.
    const reference = await renderTemplate('create_root_cert.ini', CONTEXTS['create_root_cert.ini']);
    expect(text.replace(/^O\s+=.*$/m, 'O')).toBe(reference.replace(/^O\s+=.*$/m, 'O'));
  });

  it.each([
    ['a newline', 'Example\n[ v3_ca ]\nbasicConstraints = CA:true'],
    ['a carriage return', 'Example\rOrg'],
    ['a NUL', 'Example\0Org'],
  ])('refuses an organisation with %s', async (_what, organization) => {
    await expect(
      renderTemplate('create_root_cert.ini', { ...CONTEXTS['create_root_cert.ini'], subject: { ...SUBJECT, organization } }),
    ).rejects.toThrow(UsageError);
  });

  it('refuses hostile SAN values and a hostile key URI in sign_server_csrs.ini', async () => {
    const base = CONTEXTS['sign_server_csrs.ini'];
    await expect(
      renderTemplate('sign_server_csrs.ini', { ...base, sans: [{ type: 'DNS', index: 1, value: 'a.example.com\nDNS.2 = evil.com' }] }),
    ).rejects.toThrow(UsageError);
    await expect(renderTemplate('sign_server_csrs.ini', { ...base, privateKeyUri: `${INTERMEDIATE_KEY_URI}\n` })).rejects.toThrow(UsageError);
  });

  it('escapes a $ and # in the CA directory', async () => {
    const text = await renderTemplate('sign_intermediate_csr.ini', { ...CONTEXTS['sign_intermediate_csr.ini'], dir: '/srv/ca$1 #2' });
    expect(text).toContain('dir               = /srv/ca\\$1 \\#2\n');
  });

  it('refuses a missing value instead of writing "undefined"', async () => {
    const { organizationalUnit: _omit, ...withoutOu } = SUBJECT;
    await expect(
      renderTemplate('create_root_cert.ini', { ...CONTEXTS['create_root_cert.ini'], subject: withoutOu }),
    ).rejects.toThrow(UsageError);
    await expect(renderTemplate('openssl_engine.cnf', {})).rejects.toThrow(UsageError);
    await expect(renderTemplate('openssl_engine.cnf', { module: null })).rejects.toThrow(/is missing/);
  });
});

describe('renderTemplate golden files', () => {
  it.each(TEMPLATE_NAMES)('%s matches test/fixtures/golden/%s', async (name) => {
    const text = await renderTemplate(name, CONTEXTS[name]);
    expect(text).toBe(golden(name, text));
  });

  const LEAF_TEMPLATES: readonly TemplateName[] = ['sign_server_csrs.ini', 'profiles/server.ini'];

  it('a server config without SANs or URLs matches its golden file and has no subjectAltName', async () => {
    const text = await renderTemplates(LEAF_TEMPLATES, { ...LEAF_CONTEXT, sans: [], crlUrl: '', caIssuersUrl: '' });
    expect(text).toBe(golden('sign_server_csrs.no-sans.ini', text));
    expect(text).not.toMatch(/^subjectAltName\s*=/m);
    expect(text).not.toContain('[ leaf_san ]');
    expect(text).not.toMatch(/^(crlDistributionPoints|authorityInfoAccess)/m);
    expect(text).toMatch(/\[ server_cert \][^[]*extendedKeyUsage = serverAuth\n$/);
  });

  it('a batch\'s shared run copies the request\'s (already validated) SAN and writes none itself', async () => {
    const text = await renderTemplates(LEAF_TEMPLATES, { ...LEAF_CONTEXT, sans: [], copyExtensions: 'copy' });
    expect(text).toContain('\ncopy_extensions   = copy\n');
    expect(text).not.toMatch(/^subjectAltName\s*=/m);
  });

  it('a server config carries the SANs in a leaf_san section, and the CRL and CA-issuer URLs', async () => {
    const text = await renderTemplates(LEAF_TEMPLATES, LEAF_CONTEXT);
    expect(text).toContain('\nsubjectAltName = @leaf_san\n');
    expect(text).toContain('\n[ leaf_san ]\nDNS.1 = www.example.com\nIP.2 = 10.0.0.1\nemail.3 = ops@example.com\n');
    expect(text).toContain('\nkeyUsage = critical, digitalSignature\n');
    expect(text).toContain('\ncopy_extensions   = none\n');
    expect(text).toContain(`\nprivate_key       = ${INTERMEDIATE_KEY_URI}\n`);
    expect(text).toContain('\ndir               = /home/ca/example-ca/intermediate\n');
    expect(text).toContain('\ncrlDistributionPoints = URI:http://pki.example.com/intermediate.crl\n');
    expect(text).toContain('\nauthorityInfoAccess = caIssuers;URI:http://pki.example.com/intermediate.crt\n');
  });

  it.each([
    ['profiles/server.ini', 'server_cert', 'serverAuth'],
    ['profiles/client.ini', 'client_cert', 'clientAuth'],
    ['profiles/server-client.ini', 'server_client_cert', 'serverAuth, clientAuth'],
  ] as Array<[TemplateName, string, string]>)('%s is the [ %s ] section with extendedKeyUsage %s, CA:FALSE', async (template, section, eku) => {
    const text = await renderTemplate(template, LEAF_CONTEXT);
    expect(text.startsWith(`[ ${section} ]\n`)).toBe(true);
    expect(text).toContain(`\nextendedKeyUsage = ${eku}\n`);
    expect(text).toContain('\nbasicConstraints = critical, CA:FALSE\n');
    expect(text).toContain('\nauthorityKeyIdentifier = keyid:always\n');
    expect(text).not.toMatch(/nsCertType|nsComment/);
  });

  it('a profile keeps an RSA key usage list intact', async () => {
    const text = await renderTemplate('profiles/server.ini', { ...LEAF_CONTEXT, keyUsage: 'digitalSignature, keyEncipherment' });
    expect(text).toContain('\nkeyUsage = critical, digitalSignature, keyEncipherment\n');
  });

  it('create_root_cert.ini has the v3_ca extensions and the subject', async () => {
    const text = await renderTemplate('create_root_cert.ini', CONTEXTS['create_root_cert.ini']);
    expect(text).toContain(
      '[ v3_ca ]\n# Extensions for a typical CA (`man x509v3_config`).\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always,issuer\nbasicConstraints = critical, CA:true\nkeyUsage = critical, digitalSignature, cRLSign, keyCertSign\n',
    );
    expect(text).toContain(
      '[ req_distinguished_name ]\nC                   = US\nST                  = California\nO                   = Example Org\nOU                  = Example Org Certificate Authority\nCN                  = Example Org Root CA\n',
    );
    expect(text).toContain('\ndefault_md          = sha512\n');
    expect(text).toContain('\nprompt              = no\n');
    expect(text).toContain('\nstring_mask         = utf8only\n');
  });

  it('create_root_cert.ini without country and state drops C and ST and makes them optional', async () => {
    const text = await renderTemplate('create_root_cert.ini', {
      ...CONTEXTS['create_root_cert.ini'],
      subject: { organization: 'Example Org', organizationalUnit: 'PKI' },
    });
    expect(text).not.toMatch(/^C\s+=/m);
    expect(text).not.toMatch(/^ST\s+=/m);
    expect(text).toContain('countryName             = optional\n');
    expect(text).toContain('stateOrProvinceName     = optional\n');
    expect(text).toContain('[ req_distinguished_name ]\nO                   = Example Org\nOU                  = PKI\nCN                  = Example Org Root CA\n');
  });

  it('sign_intermediate_csr.ini makes a pathlen:0 CA and copies no CSR extensions', async () => {
    const text = await renderTemplate('sign_intermediate_csr.ini', CONTEXTS['sign_intermediate_csr.ini']);
    expect(text).toContain('\nbasicConstraints = critical, CA:true, pathlen:0\n');
    expect(text).toContain('\ncopy_extensions   = none\n');
    expect(text).toContain(`\nprivate_key       = ${ROOT_KEY_URI}\n`);
    expect(text).toContain('\ncertificate       = /home/ca/example-ca/certs/root.crt\n');
    expect(text).toContain('\ncrlDistributionPoints = URI:http://pki.example.com/root.crl\n');
    expect(text).toContain('\nnameConstraints = critical, @name_constraints\n\n[ name_constraints ]\npermitted;DNS.1 = example.com\npermitted;IP.2 = 10.0.0.0/255.0.0.0\n');
  });

  it('sign_intermediate_csr.ini without URLs or constraints has neither', async () => {
    const text = await renderTemplate('sign_intermediate_csr.ini', { ...CONTEXTS['sign_intermediate_csr.ini'], rootCrlUrl: '', nameConstraints: [] });
    expect(text).not.toMatch(/^(crlDistributionPoints|nameConstraints)/m);
  });

  it('sign_intermediate_csr.ini for a foreign CSR: its own pathlen, excluded subtrees, a policy with optional O/OU, still no CSR extensions', async () => {
    const nameConstraints = [
      { subtree: 'permitted', type: 'DNS', index: 1, value: 'example.com' },
      { subtree: 'excluded', type: 'DNS', index: 2, value: 'secret.example.com' },
    ];
    const text = await renderTemplate('sign_intermediate_csr.ini', { ...CONTEXTS['sign_intermediate_csr.ini'], nameConstraints, pathlen: 1, foreignSubject: true });
    expect(text).toContain('\nbasicConstraints = critical, CA:true, pathlen:1\n');
    expect(text).toContain('\npolicy            = policy_foreign\n');
    expect(text).toContain('[ policy_foreign ]\n');
    expect(text).toContain('organizationName        = optional\norganizationalUnitName  = optional\ncommonName              = supplied\n');
    expect(text).toContain('\ncopy_extensions   = none\n');
    expect(text).toContain('[ name_constraints ]\npermitted;DNS.1 = example.com\nexcluded;DNS.2 = secret.example.com\n');
  });

  it('openssl_engine.cnf points the pkcs11 engine at the module', async () => {
    const text = await renderTemplate('openssl_engine.cnf', CONTEXTS['openssl_engine.cnf']);
    expect(text).toContain('\nMODULE_PATH = /usr/lib/softhsm/libsofthsm2.so\n');
    expect(text.startsWith('# OPENSSL_CONF')).toBe(true);
    expect(text).toContain('openssl_conf = openssl_init\n');
  });

  it('every golden file is well-formed OpenSSL config: sections, name = value lines and comments only', () => {
    const files = (readdirSync(GOLDEN_DIR, { recursive: true }) as string[]).filter((f) => /\.(ini|cnf)$/.test(f));
    expect(files.sort()).toEqual([...TEMPLATE_NAMES, 'sign_server_csrs.no-sans.ini'].sort());
    for (const file of files) {
      const text = readFileSync(new URL(file, GOLDEN_DIR), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      for (const line of text.split('\n').slice(0, -1)) {
        const ok = line === '' || line.startsWith('#') || /^\[ [A-Za-z0-9_]+ \]$/.test(line) || /^[A-Za-z0-9_.;-]+\s*= ?\S/.test(line);
        if (!ok) throw new Error(`${file}: unexpected line ${JSON.stringify(line)}`);
        expect(line).not.toMatch(/\s$/);
        expect(line).not.toMatch(/undefined|\{\{|\}\}/);
      }
    }
  });
});

describe('templates pass every value through cnf', () => {
  const templateFiles = (readdirSync(templateDirectory, { recursive: true }) as string[]).filter((f) => f.endsWith('.hbs'));

  it('finds every template', () => {
    expect(templateFiles.sort()).toEqual(TEMPLATE_NAMES.map((n) => `${n}.hbs`).sort());
  });

  it.each(templateFiles)('%s: every {{ … }} is a block helper or a {{cnf …}} call', (file) => {
    const source = readFileSync(`${templateDirectory}${file}`, 'utf8');
    const mustaches = [...source.matchAll(/\{\{(.*?)\}\}/gs)].map((m) => m[1]!);
    expect(mustaches.length).toBeGreaterThan(0);
    const offending = mustaches.filter((inner) => {
      if (inner.startsWith('{') || inner.startsWith('&') || inner.startsWith('>') || inner.startsWith('!')) return true;
      const body = inner.replace(/^~/, '').replace(/~$/, '').trim();
      return !(/^#if \S.*$/.test(body) || body === '/if' || body === 'else' || /^#each \S.*$/.test(body) || body === '/each' || /^cnf \S+$/.test(body));
    });
    expect(offending).toEqual([]);
  });

  it.each(templateFiles)('%s: the Handlebars AST outputs values only through cnf', (file) => {
    const source = readFileSync(`${templateDirectory}${file}`, 'utf8');
    const problems: string[] = [];
    const visit = (node: hbs.AST.Node | null | undefined): void => {
      if (!node) return;
      switch (node.type) {
        case 'Program':
          for (const statement of (node as hbs.AST.Program).body) visit(statement);
          return;
        case 'ContentStatement':
        case 'CommentStatement':
          return;
        case 'MustacheStatement': {
          const m = node as hbs.AST.MustacheStatement;
          const path = m.path as hbs.AST.PathExpression;
          if (path.type !== 'PathExpression' || path.original !== 'cnf' || m.params.length !== 1 || m.hash) {
            problems.push(`line ${m.loc.start.line}: {{${path.original ?? path.type} …}} does not go through cnf`);
          }
          if (!m.escaped) problems.push(`line ${m.loc.start.line}: triple-stash`);
          return;
        }
        case 'BlockStatement': {
          const b = node as hbs.AST.BlockStatement;
          const name = (b.path as hbs.AST.PathExpression).original;
          if (name !== 'if' && name !== 'each') problems.push(`line ${b.loc.start.line}: block helper #${name}`);
          visit(b.program);
          visit(b.inverse);
          return;
        }
        default:
          problems.push(`line ${node.loc.start.line}: ${node.type} is not allowed`);
      }
    };
    visit(Handlebars.parse(source));
    expect(problems).toEqual([]);
  });
});
