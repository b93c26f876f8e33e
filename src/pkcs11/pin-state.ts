/**
 * What a token says about its user PIN without a login: the PKCS#11 token flags CKF_USER_PIN_COUNT_LOW,
 * CKF_USER_PIN_FINAL_TRY and CKF_USER_PIN_LOCKED, as pkcs11-tool names them in its "token flags" line.
 * A token need not set them. openCryptoki and OpenSC's cards count and lock; SoftHSM2 2.6 raises only the
 * count-low flag after a refused login and never locks. All clear them after a good login (measured).
 *
 * p11tool's "Flags:" line cannot serve here: GnuTLS 3.7.9 prints "uPIN locked" for the final-try flag and
 * nothing for a locked PIN (test/fixtures/tool-output/p11tool/3.7.9/opencryptoki-list-tokens-*.txt).
 */
export type PinState = 'ok' | 'countLow' | 'finalTry' | 'locked';

const FLAG_STATES: ReadonlyArray<readonly [string, PinState]> = [
  ['user PIN locked', 'locked'],
  ['final user PIN try', 'finalTry'],
  ['user PIN count low', 'countLow'],
];

/** The worst PIN state among pkcs11-tool's token flags; `ok` when none of the three is set. */
export function pinState(flags: readonly string[]): PinState {
  return FLAG_STATES.find(([flag]) => flags.includes(flag))?.[1] ?? 'ok';
}

