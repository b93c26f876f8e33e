// Mutation testing (issue 10) over the code that decides what the CA signs or trusts. Unit tests only, so
// no token is needed. Incremental: reports/mutation/incremental.json is committed, so a clean clone
// re-tests only the mutants whose code or covering tests changed. See docs/mutation.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/x509/**/*.ts',
    'src/openssl-config.ts',
    'src/pkcs11/**/*.ts',
    'src/tools/parse/**/*.ts',
    'src/ca/signing/name-constraints.ts',
    'src/ca/signing/leaf-subject.ts',
    'src/ca/signing/leaf-policy.ts',
    'src/ca/signing/profiles.ts',
    'src/ca/signing/serial.ts',
    'src/ca/check/index-subject.ts',
  ],
  testRunner: 'jest',
  // ts-jest runs as ESM, as `npm run test:unit` does.
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    configFile: 'jest.config.js',
    config: { roots: ['<rootDir>/test/unit'], reporters: ['default'] },
  },
  coverageAnalysis: 'perTest',
  // Static mutants (module-level tables and regexes) need a fresh module load and every test per mutant:
  // measured, 387 of 1959 mutants took 84% of the time (about 40 minutes on 2 cores). See docs/mutation.md.
  ignoreStatic: true,
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  incremental: true,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['html', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // Two cores, shared with the rest of CI. A mutant's run also loads its test files (the x509 factory
  // builds keys and certificates there), which Stryker's timeout, based on test time alone, leaves out.
  concurrency: 2,
  timeoutMS: 20000,
  thresholds: { high: 95, low: 90, break: 90 },
  tempDirName: '.stryker-tmp',
};
