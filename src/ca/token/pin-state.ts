import { CaError, ParseError, printable, ToolFailedError, WrongPinError } from '../../errors.js';
import { confirm, describePinSource, interactive } from '../../terminal.js';
import { pinState, type PinState } from '../../pkcs11/pin-state.js';
import * as pkcs11Tool from '../../tools/pkcs11-tool.js';
import { commandLine, lastMeaningfulLine, type Runner } from '../../tools/run.js';
import type { TokenRole } from '../directory/context.js';

type PinRole = Pick<TokenRole, 'role' | 'module' | 'tokenLabel' | 'pinEnv' | 'pinFile'>;

/** What the token reports about its user PIN, read without a login; undefined when that cannot be read. */
export async function readPinState(run: Runner, module: string, label: string): Promise<PinState | undefined> {
  try {
    const slot = (await pkcs11Tool.listTokenSlots(run, module)).find((s) => s.tokenLabel === label);
    return slot ? pinState(slot.flags) : undefined;
  } catch (error) {
    // Only advice: a login still reports a wrong or locked PIN by itself.
    if (error instanceof ToolFailedError || error instanceof ParseError) return undefined;
    throw error;
  }
}

/** The message for a locked user PIN: how to unblock it with the SO PIN (the same on a SmartCard-HSM). */
export function lockedPinMessage(role: PinRole, what: string): string {
  const unblock = commandLine(['pkcs11-tool', '--module', role.module, '--token-label', role.tokenLabel, '--login', '--login-type', 'so', '--init-pin']);
  return `the token PIN is locked: token '${role.tokenLabel}' ${what}; unblock it with the SO PIN (${unblock}, also for a SmartCard-HSM), then run again`;
}

/** The refusal, naming the token, the PIN's source that it refused, and the tries the token now reports left. */
export function afterRefusal(error: WrongPinError, state: PinState | undefined, role: PinRole): WrongPinError {
  const refused = `token '${role.tokenLabel}' (${role.role} key) rejected ${printable(describePinSource(role))} (one failed login counted; not retried, since a SmartCard-HSM locks after 3)`;
  switch (state) {
    case 'countLow':
      return new WrongPinError(`${refused} and now reports few tries left before the PIN locks; correct that PIN and run again`);
    case 'finalTry':
      return new WrongPinError(`${refused} and now reports one try left before the PIN locks; correct that PIN before running again`);
    case 'locked':
      return new WrongPinError(lockedPinMessage(role, /CKR_PIN_LOCKED|is locked/.test(error.message) ? 'refused the login' : 'refused the PIN, and that was its last try'));
    default:
      return new WrongPinError(`${refused}; correct that PIN and run again`);
  }
}

/** How a run may go on when the token reports its last PIN try: --yes, or a yes at the terminal. */
export interface PinConsent {
  readonly yes: boolean;
  readonly say: (line: string) => void;
}

/**
 * Before any login: a locked token is refused; a token that reports few tries left is named; one that
 * reports its final try is used only after an explicit yes (--yes, or the question on a terminal) — a wrong
 * PIN then locks it, and on a SmartCard-HSM only the SO PIN unblocks it. `state`: the counters as the token
 * listing read them (undefined: not reported). Returns the runner to use the token
 * with: when the token refuses the PIN, its error names the tries the token reports left. The counters are
 * read without a login, so a refused PIN is still tried exactly once.
 */
export async function guardPin(run: Runner, role: PinRole, state: PinState | undefined, consent: PinConsent = { yes: false, say: () => undefined }): Promise<Runner> {
  if (state === 'locked') {
    throw new WrongPinError(lockedPinMessage(role, 'reports its user PIN locked after too many wrong PINs, so nothing was tried'));
  }
  if (state === 'countLow') consent.say(`token '${role.tokenLabel}' (${role.role} key) reports few PIN tries left: make sure ${describePinSource(role)} is right`);
  if (state === 'finalTry') await consentToFinalTry(role, consent);
  return async (tool, args, options) => {
    try {
      return await run(tool, args, options);
    } catch (error) {
      if (error instanceof WrongPinError) throw afterRefusal(error, await readPinState(run, role.module, role.tokenLabel), role);
      if (!(error instanceof ToolFailedError) || tool !== 'openssl' || Object.keys(options?.secrets ?? {}).length === 0) throw error;
      const after = await readPinState(run, role.module, role.tokenLabel);
      if (loginRefused(state, after, error.stderr)) throw afterRefusal(new WrongPinError('the token rejected the PIN'), after, role);
      throw KEY_UNREADABLE.test(error.stderr) ? keyUnreadable(error, after, role) : error;
    }
  };
}

/** openssl could not load the key, and the counters do not say the login was refused: what is left to check. */
function keyUnreadable(error: ToolFailedError, after: PinState | undefined, role: PinRole): CaError {
  const said = `openssl could not load the ${role.role} key (${lastMeaningfulLine(error.stderr)})`;
  if (after === undefined) return new CaError(`${said}, and token '${role.tokenLabel}' is no longer listed on ${role.module}; plug it in again and run the command again`);
  const objects = commandLine(['pkcs11-tool', '--module', role.module, '--token-label', role.tokenLabel, '--login', '--list-objects']);
  return new CaError(
    `${said}; token '${role.tokenLabel}' reports no refused login, so the private key may be missing (${objects} lists it) — or ${printable(describePinSource(role))} is wrong on a token that does not report refusals (nothing was retried)`,
  );
}

/** How openssl says it could not load the key: "Could not read / find / find or decode CA private key" (3.0–4.0). */
const KEY_UNREADABLE = /private key/i;

/**
 * Whether an openssl run that was given the PIN failed at the login. openssl is the only login of a signing,
 * and pkcs11-provider says no more than "Could not read private key" for a wrong PIN and a missing key alike
 * (libp11 names "PIN incorrect", which `run` already turns into a WrongPinError). The token tells: a refused
 * login raises a PIN counter flag and a good one clears it (SoftHSM2, openCryptoki, OpenSC's cards). A flag
 * that was already raised before the run counts only when openssl could not load the key.
 */
function loginRefused(before: PinState | undefined, after: PinState | undefined, stderr: string): boolean {
  if (after === undefined || after === 'ok') return false;
  return after !== before || KEY_UNREADABLE.test(stderr);
}

/** The final try is spent only on purpose: --yes, or a yes at the terminal; otherwise nothing is tried. */
async function consentToFinalTry(role: PinRole, consent: PinConsent): Promise<void> {
  const warning = `token '${role.tokenLabel}' (${role.role} key) reports ONE PIN try left: a wrong PIN now locks it (then only the SO PIN unblocks it)`;
  if (consent.yes) return consent.say(`${warning}; going on with ${describePinSource(role)}, as --yes says`);
  if (!interactive()) {
    throw new WrongPinError(`${warning}; nothing was tried — check ${printable(describePinSource(role))}, then run again with --yes to spend that last try`);
  }
  await confirm(warning, `Try ${describePinSource(role)} on it?`, 'the last PIN try was not used', consent);
}
