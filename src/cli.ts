#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isProfileName, PROFILES, type ProfileName } from './ca/signing/profiles.js';
import { parseCidr, parsePermittedDns } from './ca/signing/name-constraints.js';
import { P12_PASSWORD_VARIABLE, REVOCATION_REASONS, type RevocationReason } from './ca/signing/option-values.js';
import { DEFAULT_MODULE, KEY_TYPES, type NameConstraints } from './ca/directory/settings.js';
import { CaError, printable } from './errors.js';
import { jsonDocument, jsonOutput, setJsonOutput } from './commands/json-output.js';

type Commands = typeof import('./commands/index.js');

/**
 * A command's action, given the commands' code once it runs: that code is one dynamic import, so `--help`
 * and a usage error never load it (issue 11).
 */
function act<A extends unknown[]>(body: (commands: Commands, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => body(await import('./commands/index.js'), ...args);
}

function wholeDays(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 36_500) throw new InvalidArgumentError('must be a whole number of days from 0 to 36500');
  return Number(value);
}

function pathLength(value: string): number {
  if (!/^\d$/.test(value)) throw new InvalidArgumentError('must be a whole number from 0 to 9 (the CA levels allowed below this one)');
  return Number(value);
}

function positiveSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 86_400) throw new InvalidArgumentError('must be a whole number of seconds from 1 to 86400');
  return Number(value);
}

function positiveDays(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 36_500) throw new InvalidArgumentError('must be a whole number of days from 1 to 36500');
  return Number(value);
}

function profileName(value: string): ProfileName {
  if (!isProfileName(value)) throw new InvalidArgumentError(`must be one of ${Object.keys(PROFILES).join(', ')}`);
  return value;
}

function revocationReason(value: string): RevocationReason {
  const match = REVOCATION_REASONS.find((reason) => reason.toLowerCase() === value.toLowerCase());
  if (!match) throw new InvalidArgumentError(`must be one of ${REVOCATION_REASONS.join(', ')}`);
  return match;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function nameConstraints(dns: string[], ip: string[], excluded: string[] = []): NameConstraints | undefined {
  if (dns.length === 0 && ip.length === 0 && excluded.length === 0) return undefined;
  const constraints = { dns: dns.map((name) => parsePermittedDns(name)), ip: ip.map((cidr) => (parseCidr(cidr), cidr)) };
  return excluded.length === 0 ? constraints : { ...constraints, excludedDns: excluded.map((name) => parsePermittedDns(name, '--exclude-dns')) };
}

interface TokenFlags {
  dir: string;
  module?: string;
  token?: string;
  pinFile?: string;
  rootModule?: string;
  rootToken?: string;
  rootPinFile?: string;
  backend?: string;
  yes?: boolean;
  lockTimeout?: number;
}

/** `--dir`, from HSM_CA_DIR when it is not given, so a shell or a cron job can name its CA once. */
function dirOption(): Option {
  return new Option('--dir <dir>', 'CA directory').env('HSM_CA_DIR').default('.');
}

/**
 * The token options of a command that signs. Only the commands that may use the root key (`root: true`)
 * offer the options of an offline root's own token; `server`, `client` and `renew` never touch it.
 */
function withTokenOptions(command: Command, keys: { root: boolean }): Command {
  command
    .addOption(dirOption())
    .option('--module <path>', 'PKCS#11 module (overrides the settings file)')
    .option('--token <label>', 'token label (overrides the settings file)')
    .option('--pin-file <path>', 'read the PIN from this file (else HSM_CA_PIN, else a hidden prompt)');
  if (keys.root) {
    command
      .option('--root-module <path>', 'PKCS#11 module of an offline root\'s own token (overrides the settings file)')
      .option('--root-token <label>', 'label of an offline root\'s own token (overrides the settings file)')
      .option('--root-pin-file <path>', 'PIN file for the root\'s own token (else HSM_CA_ROOT_PIN, else a prompt)');
  }
  return command
    .option('--backend <backend>', 'how openssl reaches the token: auto, engine (libp11) or provider (pkcs11-provider); overrides the settings file')
    .option('-y, --yes', 'sign without asking (no question is asked without a terminal either)')
    .option('--lock-timeout <seconds>', 'how long to wait for another run to release the CA directory', positiveSeconds, 120);
}

/** `server` and `client`: several CSRs (src/ca/signing/batch/), or the key made here instead (src/ca/signing/new-key.ts). */
function withLeafSourceOptions(command: Command): Command {
  return command
    .option('--new-key <name>', 'make a software key (never on the token) and its CSR with CN=NAME, then sign it: writes NAME.key (0600), NAME.crt, NAME.chain.crt')
    .option('--key-type <type>', `with --new-key: ${KEY_TYPES.join(', ')} (default EC:secp256r1)`)
    .option('--out-dir <dir>', 'where the files go: NAME.crt and NAME.chain.crt for each NAME.csr; with --new-key also NAME.key (default: beside each CSR; with --new-key the current directory)')
    .option('--from-dir <dir>', 'sign every *.csr and *.req in DIR as one batch')
    .option('--strict', 'with several CSRs: refuse the whole batch when any CSR is refused (without it: sign the others, report the refused, exit 1)')
    .option('--p12 <file>', 'with --new-key: also a PKCS#12 (key + certificate + intermediate, AES-256) for Java and Windows')
    .option('--p12-password-file <file>', `with --p12: its password, the file's first line (else ${P12_PASSWORD_VARIABLE})`);
}

/** An example or two under a command's help. */
function examples(command: Command, ...lines: string[]): Command {
  return command.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((line) => `  $ hsm-openssl-ca ${line}`).join('\n')}\n`);
}

/** What each exit code means: stable, so scripts may rely on them. */
export const EXIT_CODES = `Exit codes:
  0   done (check, audit verify, status: everything is in order)
  1   refused or failed: the message says what and what to do next (status: something expires soon;
      check: a BROKEN finding; audit verify: the log does not verify)
  2   bad usage: an unknown option, a missing or malformed argument
  70  internal error (a bug: run with --debug and report it)
  130, 143  interrupted by SIGINT, SIGTERM (nothing half-written: see \`check\`)`;

/** The package's version, read where it is installed (dist/cli.js sits beside package.json's folder). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function tokenOptions(flags: TokenFlags, { run, say }: Pick<Commands, 'run' | 'say'>) {
  return {
    dir: flags.dir,
    module: flags.module,
    token: flags.token,
    pinFile: flags.pinFile,
    rootModule: flags.rootModule,
    rootToken: flags.rootToken,
    rootPinFile: flags.rootPinFile,
    backend: flags.backend,
    yes: flags.yes ?? false,
    lockTimeoutMs: (flags.lockTimeout ?? 120) * 1000,
    run,
    say,
  };
}

export function buildProgram(): Command {
  const program = new Command('hsm-openssl-ca')
    .description('A two-tier private CA (root + intermediate) whose keys never leave a PKCS#11 token.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .allowExcessArguments(false)
    .addHelpText('after', `\nThe CA directory is --dir, else HSM_CA_DIR, else the current directory.\n\n${EXIT_CODES}\n`)
    .exitOverride();

  examples(program.command('init'), 'init --dir /srv/ca --org "Example Corp" --token "CA Token" --crl-url http://pki.example.test/intermediate.crl')
    .description('create the CA directory layout and settings (no token access)')
    .requiredOption('--org <org>', 'organisation (O)')
    .requiredOption('--token <label>', 'token label')
    .addOption(dirOption())
    .option('--module <path>', 'PKCS#11 module', DEFAULT_MODULE)
    .option('--root-module <path>', 'PKCS#11 module of the root\'s own token (default: --module)')
    .option('--root-token <label>', 'label of the root\'s own token, for an offline root (default: --token)')
    .option('--country <CC>', 'two-letter country code (C)')
    .option('--state <state>', 'state or province (ST)')
    .option('--org-unit <ou>', 'organisational unit (OU); default "ORG Certificate Authority"')
    .option('--root-cn <cn>', 'root CA common name; default "ORG Root CA"')
    .option('--intermediate-cn <cn>', 'intermediate CA common name; default "ORG Intermediate CA"')
    .option('--key-type <type>', `key type of both CAs: ${KEY_TYPES.join(', ')}`, 'EC:secp384r1')
    .option('--root-key-type <type>', 'key type of the root CA (default: --key-type), e.g. rsa:4096 over an EC intermediate for old clients')
    .option('--intermediate-key-type <type>', 'key type of the intermediate CA (default: --key-type)')
    .option('--digest <digest>', 'sha256, sha384 or sha512 for both CAs (default: the one that fits each CA\'s key: P-256 sha256, P-384 sha384, P-521 sha512, RSA sha256)')
    .option('--backend <backend>', 'how openssl reaches the token: auto (pkcs11-provider when it loads, else the libp11 engine), engine or provider', 'auto')
    .option('--crl-url <url>', 'CRL Distribution Point put into every certificate the intermediate issues')
    .option('--ca-issuers-url <url>', 'Authority Information Access (where intermediate.crt is published) for those certificates')
    .option('--root-crl-url <url>', 'CRL Distribution Point of the root\'s CRL, put into the intermediate\'s certificate')
    .option('--leaf-subject <attrs>', 'the CA\'s own attributes every issued certificate\'s subject carries before the CSR\'s CN: any of C, ST, O, OU, e.g. O,OU (default: the CN alone)')
    .action(act((c, flags) => c.initCommand(flags)));

  examples(withTokenOptions(program.command('root').description('generate the root key on the token and self-sign the root certificate'), { root: true }), 'root --dir /srv/ca', 'root --dir /srv/ca --root-token "Offline Root" --root-pin-file /run/root.pin')
    .option('--days <days>', 'validity', positiveDays, 3650)
    .option('--label <label>', 'label of the key on the token', 'root')
    .option('--dry-run', 'self-sign with the shadow CA from the very config and show the commands, the config and the certificate; no PIN, no key made, nothing written', false)
    .action(act((c, flags) => c.rootCommand({ ...tokenOptions(flags, c), days: flags.days, label: flags.label, dryRun: flags.dryRun })));

  examples(
    withTokenOptions(program.command('intermediate').description('generate the intermediate key and sign its certificate with the root key, or with --csr sign an online CA\'s (step-ca, Vault, EJBCA)'), { root: true }),
    'intermediate --dir /srv/ca',
    'intermediate --dir /srv/ca --permit-dns example.test --permit-ip 10.0.0.0/8',
    'intermediate --dir /srv/ca --csr step-ca-intermediate.csr --permit-dns internal.example.test --out-dir handover/',
    'intermediate --renew --dir /srv/ca --days 1825',
    'intermediate --rekey --dir /srv/ca --crl-url http://pki.example.test/intermediate-2.crl',
  )
    .option('--days <days>', 'validity', positiveDays, 1825)
    .option('--label <label>', 'label of the key on the token', 'intermediate')
    .option('--permit-dns <domain>', 'name constraint: only names in this DNS subtree (repeatable)', collect, [])
    .option('--permit-ip <cidr>', 'name constraint: only addresses in this range, e.g. 10.0.0.0/8 (repeatable)', collect, [])
    .option('--renew', 'a new certificate for this directory\'s intermediate: same key and subject, new validity, signed by the root; the old one is kept as intermediate-SERIAL.crt', false)
    .option('--rekey', 'a new key and certificate for this directory\'s intermediate (same subject); the old key keeps signing only the CRL of what it issued, at its own URL, until its certificate expires', false)
    .option('--crl-url <url>', 'with --rekey: where the new key\'s CRL is published (default: the current URL with -N before the extension)')
    .option('--ca-issuers-url <url>', 'with --rekey: where the new intermediate certificate is published (default derived the same way)')
    .option('--csr <file>', 'sign this online CA\'s intermediate CSR with the root key instead (its key stays with that CA)')
    .option('--pathlen <n>', 'with --csr: how many CA levels may sit below it (default 0)', pathLength)
    .option('--exclude-dns <domain>', 'with --csr: name constraint: no names in this DNS subtree (repeatable)', collect, [])
    .option('--out <file>', 'with --csr: where to write its certificate (default: the CSR\'s name with .crt)')
    .option('--out-dir <dir>', 'with --csr: write the hand-over instead: intermediate.crt, chain.crt, root.crt, root.sha256')
    .option('--dry-run', 'our own intermediate: a software key and the shadow root stand in for the tokens; show the commands, configs and certificate; no PIN, nothing written', false)
    .action(act((c, flags, command: Command) => c.intermediateCommand({ ...tokenOptions(flags, c), days: flags.days, label: flags.label, labelGiven: command.getOptionValueSource('label') === 'cli', nameConstraints: nameConstraints(flags.permitDns, flags.permitIp, flags.excludeDns), csr: flags.csr, pathlen: flags.pathlen, out: flags.out, outDir: flags.outDir, dryRun: flags.dryRun, renew: flags.renew, rekey: flags.rekey, crlUrl: flags.crlUrl, caIssuersUrl: flags.caIssuersUrl })));

  examples(withLeafSourceOptions(withTokenOptions(program.command('server').argument('[csr...]', 'the certificate signing request(s) (PEM or DER); or --from-dir DIR, or --new-key NAME').description('sign server CSRs with the intermediate key (several at once: one question, one PIN), or make the key too with --new-key'), { root: false })), 'server web.csr --dir /srv/ca --san DNS:www.example.test --out web.crt', 'server --new-key web.example.test --san DNS:www.example.test --dir /srv/ca --out-dir /etc/nginx/tls', 'server --from-dir requests/ --out-dir issued/ --dir /srv/ca')
    .option('--days <days>', 'validity (at most 398 for TLS servers)', positiveDays, 375)
    .option('--profile <profile>', 'server, client or server-client', profileName, 'server')
    .option('--san <san>', 'add a subjectAltName: DNS:name, IP:address, email:address, URI:uri (repeatable)', collect, [])
    .addOption(new Option('--out <file>', 'where to write the certificate (default: the CSR path with .crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action(act((c, csrs: string[], flags) => c.serverCommand({ ...tokenOptions(flags, c), ...c.leafSource(csrs, flags), days: flags.days, out: flags.out, profile: flags.profile, sans: flags.san, dryRun: flags.dryRun })));

  examples(withLeafSourceOptions(withTokenOptions(program.command('client').argument('[csr...]', 'the certificate signing request(s) (PEM or DER); or --from-dir DIR, or --new-key NAME').description('sign client (mutual TLS) CSRs with the intermediate key (several at once: one question, one PIN), or make the key too with --new-key'), { root: false })), 'client alice.csr --dir /srv/ca --san email:alice@example.test', 'client --new-key alice --san email:alice@example.test --p12 alice.p12 --p12-password-file pw.txt --dir /srv/ca')
    .option('--days <days>', 'validity', positiveDays, 375)
    .option('--san <san>', 'add a subjectAltName: DNS:name, IP:address, email:address, URI:uri (repeatable)', collect, [])
    .addOption(new Option('--out <file>', 'where to write the certificate (default: the CSR path with .crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action(act((c, csrs: string[], flags) => c.clientCommand({ ...tokenOptions(flags, c), ...c.leafSource(csrs, flags), days: flags.days, out: flags.out, sans: flags.san, dryRun: flags.dryRun })));

  examples(withTokenOptions(program.command('revoke').argument('[target]', 'certificate file or serial number (with --root: default the intermediate)').description('revoke a certificate and publish a new CRL'), { root: true }), 'revoke web.crt --dir /srv/ca --reason keyCompromise', 'revoke --root --dir /srv/ca --reason cACompromise')
    .option('--reason <reason>', REVOCATION_REASONS.join(', '), revocationReason, 'unspecified')
    .option('--root', 'revoke with the root key: our intermediate CA (the default target) or an online CA\'s by serial', false)
    .option('--crl-days <days>', 'validity of the CRL published with the revocation', positiveDays, 30)
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action(act((c, target: string | undefined, flags) => c.revokeCommand({ ...tokenOptions(flags, c), target, reason: flags.reason, root: flags.root, crlDays: flags.crlDays, dryRun: flags.dryRun })));

  examples(withTokenOptions(program.command('crl').description('publish a CRL signed on the token'), { root: true }), 'crl --dir /srv/ca', 'crl --root --dir /srv/ca --days 180')
    .option('--root', 'the root\'s CRL (crl/root.crl.pem) instead of the intermediate\'s', false)
    .option('--days <days>', 'until nextUpdate', positiveDays, 30)
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action(act((c, flags) => c.crlCommand({ ...tokenOptions(flags, c), root: flags.root, days: flags.days, dryRun: flags.dryRun })));

  examples(withTokenOptions(program.command('renew').argument('<target>', 'certificate file or serial number').description('re-sign a certificate\'s kept CSR with fresh validity, same profile and SANs'), { root: false }), 'renew web.crt --dir /srv/ca --revoke-old')
    .option('--days <days>', 'validity', positiveDays, 375)
    .option('--revoke-old', 'revoke the old certificate as superseded and publish a CRL', false)
    .addOption(new Option('--out <file>', 'where to write the new certificate (default: NAME-renewed-YYYYMMDD.crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action(act((c, target: string, flags) => c.renewCommand({ ...tokenOptions(flags, c), target, days: flags.days, out: flags.out, revokeOld: flags.revokeOld, dryRun: flags.dryRun })));

  examples(program.command('list'), 'list --dir /srv/ca --expiring 30', 'list --dir /srv/ca --json')
    .description('certificates the intermediate issued (serial, status, not-after, profile, subject, SANs)')
    .addOption(dirOption())
    .option('--expiring <days>', 'only valid certificates that expire within DAYS', wholeDays)
    .option('--revoked', 'only revoked certificates', false)
    .option('--root', 'what the root signed instead: our intermediate and every online CA\'s (intermediate --csr)', false)
    .option('--json', 'machine-readable output', false)
    .action(act((c, flags) => c.listCommand(flags)));

  examples(program.command('show'), 'show web.crt --dir /srv/ca', 'show www.example.test --dir /srv/ca', 'show 3E1D1B0A --dir /srv/ca', 'show incoming.csr --dir /srv/ca')
    .argument('<target>', 'a certificate or CSR file, a serial or its first 4+ hex digits, or a CN or SAN')
    .description('a readable summary of an issued certificate, a CA certificate or a CSR')
    .addOption(dirOption())
    .action(act((c, target: string, flags) => c.showCommand({ dir: flags.dir, target })));

  examples(program.command('status'), 'status --dir /srv/ca --warn-days 30')
    .description('both CAs: subject, key, expiry, counts, CRL; exit 1 when something expires soon')
    .addOption(dirOption())
    .option('--warn-days <days>', 'exit 1 when a CA certificate expires within DAYS', wholeDays, 30)
    .option('--crl-warn-days <days>', 'exit 1 when a CRL\'s nextUpdate comes within DAYS (publish CRLs more often than crl --days minus this)', wholeDays, 7)
    .action(act((c, flags) => c.statusCommand(flags)));

  program
    .command('audit')
    .description('the audit log')
    .command('verify')
    .addHelpText('after', '\nExample:\n  $ hsm-openssl-ca audit verify --dir /srv/ca\n')
    .description('check DIR/audit.log: its hash chain, its end against audit.head, and a record for every issuance and revocation in the databases')
    .addOption(dirOption())
    .action(act((c, flags) => c.auditVerifyCommand(flags)));

  examples(program.command('check'), 'check --dir /srv/ca', 'check --dir /srv/ca --repair')
    .description('check the CA directory\'s consistency (index.txt, serial, newcerts, CRLs, certificates, settings, audit log, interrupted changes)')
    .addOption(dirOption())
    .option('--repair', 'first finish an interrupted change from its journal and remove what interrupted writes left', false)
    .action(act((c, flags) => c.checkCommand(flags)));

  examples(program.command('doctor'), 'doctor --dir /srv/ca')
    .description('check the tools, libp11, the module and the token (no login)')
    .addOption(dirOption())
    .option('--module <path>', 'PKCS#11 module (default: the settings file\'s, else SoftHSM2)')
    .option('--token <label>', 'token label to look for')
    .action(act((c, flags) => c.doctorCommand(flags)));

  // --json on every command (list has its own): one JSON document on stdout, written by main().
  for (const command of [...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    if (command.commands.length === 0 && !command.options.some((option) => option.long === '--json')) command.option('--json', 'one JSON document on stdout (errors as {"error": {"code", "message"}})', false);
  }
  program.hook('preAction', (_program, action) => setJsonOutput(Boolean(action.opts()['json'])));
  return program;
}

/** An error as its exit code and its one-line message (written to stderr here, as text). */
function reportError(error: unknown, debug: boolean): { code: number; message: string } {
  if (error instanceof CommanderError) return { code: error.exitCode === 0 ? 0 : 2, message: error.message.replace(/^error: /, '') };
  if (error instanceof CaError) {
    if (error.detail !== undefined) process.stderr.write(error.detail.split('\n').map((line) => `  | ${printable(line)}\n`).join(''));
    process.stderr.write(`hsm-openssl-ca: ${printable(error.message)}\n`);
    if (debug) process.stderr.write(`${error.stack}\n`);
    return { code: error.exitCode, message: error.message };
  }
  const message = `internal error: ${(error as Error).message ?? String(error)}`;
  process.stderr.write(`hsm-openssl-ca: ${printable(message)}${debug ? `\n${(error as Error).stack}` : ' (run with --debug for details)'}\n`);
  return { code: 70, message };
}

/** The one place errors become messages and exit codes, and where --json's one document is written. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug') || process.env['DEBUG'] === '1';
  let failure: { code: number; message: string } | undefined;
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    failure = reportError(error, debug);
  }
  // A usage error may come before --json was parsed: asking for it anywhere on the line is enough.
  if ((jsonOutput() || argv.includes('--json')) && failure?.code !== 0) process.stdout.write(jsonDocument(failure));
  return failure?.code ?? 0;
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // Exiting (rather than dying) on these runs the exit hooks that remove temporary files and the CA lock.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  // A reader that stops early (`--help | head`): what it did not read is dropped; a change under way still finishes.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  process.exitCode = await main(process.argv);
}
