#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isProfileName, PROFILES, type ProfileName } from './ca/signing/profiles.js';
import { parseCidr, parsePermittedDns } from './ca/signing/name-constraints.js';
import { REVOCATION_REASONS, type RevocationReason } from './ca/signing/revocation.js';
import { DEFAULT_MODULE, KEY_TYPES, type NameConstraints } from './ca/directory/settings.js';
import { auditVerifyCommand } from './commands/audit.js';
import { checkCommand } from './commands/check.js';
import { clientCommand } from './commands/client.js';
import { crlCommand } from './commands/crl.js';
import { listCommand } from './commands/list.js';
import { renewCommand } from './commands/renew.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { doctorCommand } from './commands/doctor.js';
import { intermediateCommand } from './commands/intermediate.js';
import { initCommand } from './commands/init.js';
import { say } from './commands/output.js';
import { revokeCommand } from './commands/revoke.js';
import { rootCommand } from './commands/root.js';
import { serverCommand } from './commands/server.js';
import { CaError, printable } from './errors.js';
import { run } from './tools/run.js';

function wholeDays(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 36_500) throw new InvalidArgumentError('must be a whole number of days from 0 to 36500');
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

function nameConstraints(dns: string[], ip: string[]): NameConstraints | undefined {
  if (dns.length === 0 && ip.length === 0) return undefined;
  return { dns: dns.map(parsePermittedDns), ip: ip.map((cidr) => (parseCidr(cidr), cidr)) };
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

function withTokenOptions(command: Command): Command {
  return command
    .option('--dir <dir>', 'CA directory', '.')
    .option('--module <path>', 'PKCS#11 module (overrides the settings file)')
    .option('--token <label>', 'token label (overrides the settings file)')
    .option('--pin-file <path>', 'read the PIN from this file (else HSM_CA_PIN, else a hidden prompt)')
    .option('--root-module <path>', 'PKCS#11 module of an offline root\'s own token (overrides the settings file)')
    .option('--root-token <label>', 'label of an offline root\'s own token (overrides the settings file)')
    .option('--root-pin-file <path>', 'PIN file for the root\'s own token (else HSM_CA_ROOT_PIN, else a prompt)')
    .option('--backend <backend>', 'how openssl reaches the token: auto, engine (libp11) or provider (pkcs11-provider); overrides the settings file')
    .option('-y, --yes', 'sign without asking (no question is asked without a terminal either)')
    .option('--lock-timeout <seconds>', 'how long to wait for another run to release the CA directory', positiveSeconds, 120);
}

function tokenOptions(flags: TokenFlags) {
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
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('init')
    .description('create the CA directory layout and settings (no token access)')
    .requiredOption('--org <org>', 'organisation (O)')
    .requiredOption('--token <label>', 'token label')
    .option('--dir <dir>', 'CA directory', '.')
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
    .action((flags) => initCommand(flags));

  withTokenOptions(program.command('root').description('generate the root key on the token and self-sign the root certificate'))
    .option('--days <days>', 'validity', positiveDays, 3650)
    .option('--label <label>', 'label of the key on the token', 'root')
    .action((flags) => rootCommand({ ...tokenOptions(flags), days: flags.days, label: flags.label }));

  withTokenOptions(program.command('intermediate').description('generate the intermediate key and sign its certificate with the root key'))
    .option('--days <days>', 'validity', positiveDays, 1825)
    .option('--label <label>', 'label of the key on the token', 'intermediate')
    .option('--permit-dns <domain>', 'name constraint: only names in this DNS subtree (repeatable)', collect, [])
    .option('--permit-ip <cidr>', 'name constraint: only addresses in this range, e.g. 10.0.0.0/8 (repeatable)', collect, [])
    .action((flags) => intermediateCommand({ ...tokenOptions(flags), days: flags.days, label: flags.label, nameConstraints: nameConstraints(flags.permitDns, flags.permitIp) }));

  withTokenOptions(program.command('server').argument('<csr>', 'the certificate signing request (PEM or DER)').description('sign a server CSR with the intermediate key'))
    .option('--days <days>', 'validity (at most 398 for TLS servers)', positiveDays, 375)
    .option('--profile <profile>', 'server, client or server-client', profileName, 'server')
    .option('--san <san>', 'add a subjectAltName: DNS:name, IP:address, email:address, URI:uri (repeatable)', collect, [])
    .addOption(new Option('--out <file>', 'where to write the certificate (default: the CSR path with .crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action((csr: string, flags) => serverCommand({ ...tokenOptions(flags), csrPath: csr, days: flags.days, out: flags.out, profile: flags.profile, sans: flags.san, dryRun: flags.dryRun }));

  withTokenOptions(program.command('client').argument('<csr>', 'the certificate signing request (PEM or DER)').description('sign a client (mutual TLS) CSR with the intermediate key'))
    .option('--days <days>', 'validity', positiveDays, 375)
    .option('--san <san>', 'add a subjectAltName: DNS:name, IP:address, email:address, URI:uri (repeatable)', collect, [])
    .addOption(new Option('--out <file>', 'where to write the certificate (default: the CSR path with .crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action((csr: string, flags) => clientCommand({ ...tokenOptions(flags), csrPath: csr, days: flags.days, out: flags.out, sans: flags.san, dryRun: flags.dryRun }));

  withTokenOptions(program.command('revoke').argument('[target]', 'certificate file or serial number (with --root: default the intermediate)').description('revoke a certificate and publish a new CRL'))
    .option('--reason <reason>', REVOCATION_REASONS.join(', '), revocationReason, 'unspecified')
    .option('--root', 'revoke with the root key (the intermediate CA itself)', false)
    .option('--crl-days <days>', 'validity of the CRL published with the revocation', positiveDays, 30)
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action((target: string | undefined, flags) => revokeCommand({ ...tokenOptions(flags), target, reason: flags.reason, root: flags.root, crlDays: flags.crlDays, dryRun: flags.dryRun }));

  withTokenOptions(program.command('crl').description('publish a CRL signed on the token'))
    .option('--root', 'the root\'s CRL (crl/root.crl.pem) instead of the intermediate\'s', false)
    .option('--days <days>', 'until nextUpdate', positiveDays, 30)
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action((flags) => crlCommand({ ...tokenOptions(flags), root: flags.root, days: flags.days, dryRun: flags.dryRun }));

  withTokenOptions(program.command('renew').argument('<target>', 'certificate file or serial number').description('re-sign a certificate\'s kept CSR with fresh validity, same profile and SANs'))
    .option('--days <days>', 'validity', positiveDays, 375)
    .option('--revoke-old', 'revoke the old certificate as superseded and publish a CRL', false)
    .addOption(new Option('--out <file>', 'where to write the new certificate (default: NAME-renewed-YYYYMMDD.crt)'))
    .option('--dry-run', 'run everything up to the token with the shadow CA and show the commands, configs and result; no PIN, nothing written', false)
    .action((target: string, flags) => renewCommand({ ...tokenOptions(flags), target, days: flags.days, out: flags.out, revokeOld: flags.revokeOld, dryRun: flags.dryRun }));

  program
    .command('list')
    .description('certificates the intermediate issued (serial, status, not-after, profile, subject, SANs)')
    .option('--dir <dir>', 'CA directory', '.')
    .option('--expiring <days>', 'only valid certificates that expire within DAYS', wholeDays)
    .option('--revoked', 'only revoked certificates', false)
    .option('--json', 'machine-readable output', false)
    .action((flags) => listCommand(flags));

  program
    .command('show')
    .argument('<target>', 'certificate file or serial number')
    .description('a readable summary of one issued certificate')
    .option('--dir <dir>', 'CA directory', '.')
    .action((target: string, flags) => showCommand({ dir: flags.dir, target }));

  program
    .command('status')
    .description('both CAs: subject, key, expiry, counts, CRL; exit 1 when something expires soon')
    .option('--dir <dir>', 'CA directory', '.')
    .option('--warn-days <days>', 'exit 1 when a CA certificate or CRL expires within DAYS', wholeDays, 30)
    .action((flags) => statusCommand(flags));

  program
    .command('audit')
    .description('the audit log')
    .command('verify')
    .description('check DIR/audit.log: its hash chain, its end against audit.head, and a record for every issuance and revocation in the databases')
    .option('--dir <dir>', 'CA directory', '.')
    .action((flags) => auditVerifyCommand(flags));

  program
    .command('check')
    .description('check the CA directory\'s consistency (index.txt, serial, newcerts, CRLs, certificates, settings, audit log, interrupted changes)')
    .option('--dir <dir>', 'CA directory', '.')
    .option('--repair', 'first finish an interrupted change from its journal and remove what interrupted writes left', false)
    .action((flags) => checkCommand(flags));

  program
    .command('doctor')
    .description('check the tools, libp11, the module and the token (no login)')
    .option('--dir <dir>', 'CA directory', '.')
    .option('--module <path>', 'PKCS#11 module (default: the settings file\'s, else SoftHSM2)')
    .option('--token <label>', 'token label to look for')
    .action((flags) => doctorCommand(flags));

  return program;
}

/** The one place errors become messages and exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug') || process.env['DEBUG'] === '1';
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CaError) {
      if (error.detail !== undefined) process.stderr.write(error.detail.split('\n').map((line) => `  | ${printable(line)}\n`).join(''));
      process.stderr.write(`hsm-openssl-ca: ${printable(error.message)}\n`);
      if (debug) process.stderr.write(`${error.stack}\n`);
      return error.exitCode;
    }
    process.stderr.write(`hsm-openssl-ca: internal error: ${printable((error as Error).message ?? String(error))}${debug ? `\n${(error as Error).stack}` : ' (run with --debug for details)'}\n`);
    return 70;
  }
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // Exiting (rather than dying) on these runs the exit hooks that remove temporary files and the CA lock.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  process.exitCode = await main(process.argv);
}
