import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, ceremony, exec, makeCsr, makeSandbox, type Sandbox } from './helpers.js';
import { TRACER } from './kill-points/harness.js';
import { modificationsIn, STRACE, STRACE_ARGS, unaccounted } from './kill-points/strace.js';

/*
 * The kill-point sweep is only as good as its tracer: strace sees every syscall, so a change to the CA directory
 * the tracer missed would be a kill point the sweep never tries.
 */
const haveStrace = existsSync(STRACE);
if (!haveStrace) console.log(`kill-point tracer cross-check skipped: ${STRACE} is not installed (apt-get install strace)`);

describe('the kill-point tracer against strace', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    if (!haveStrace) return;
    sandbox = await makeSandbox();
    await ceremony(sandbox);
  });
  afterAll(() => sandbox?.cleanup());

  (haveStrace ? it : it.skip)('every syscall of a `server` run that changes the CA directory is a traced step', async () => {
    const reqDir = join(sandbox.root, 'req');
    await mkdir(reqDir);
    const csr = await makeCsr(reqDir, 'www');
    const straceOut = join(sandbox.root, 'strace.txt');
    const traceFile = join(sandbox.root, 'trace.txt');
    const env = { ...sandbox.env, HSM_CA_TRACE_DIRS: sandbox.caDir, HSM_CA_TRACE_FILE: traceFile };
    const result = await exec(STRACE, [...STRACE_ARGS, '-o', straceOut, process.execPath, '--require', TRACER, CLI, 'server', csr, '--dir', sandbox.caDir], { env });
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    const modifications = modificationsIn(await readFile(straceOut, 'utf8'), sandbox.caDir);
    const steps = (await readFile(traceFile, 'utf8')).split('\n').filter(Boolean);
    // A signing changes the lock, newcerts/, serial, index.txt, csr/, config/ and audit.log: far more than ten syscalls.
    expect(modifications.length).toBeGreaterThan(10);
    expect(unaccounted(modifications, steps, sandbox.caDir, 'ca').map(({ line }) => line)).toEqual([]);
  });
});
