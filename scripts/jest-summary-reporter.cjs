// Prints jest's totals as one plain line, "N passed, N failed", which CI reads; with JEST_SUMMARY_FILE set
// it also writes the line there so .ci/run can print it last, after npm's own messages, followed by each
// failing test's name and the start of its message, so a matrix cell that fails says what failed in the
// CI output itself (the cell's full log stays on the machine that ran it).
const { writeFileSync } = require('node:fs');

const MESSAGE_LINES = 20;
const NOISE = /^\s+at (.*(node_modules|node:internal)|new Promise \(<anonymous>\))/;

function failures(results) {
  const out = [];
  for (const file of results.testResults) {
    if (file.testExecError) out.push(`${file.testFilePath}: ${String(file.testExecError.message).split('\n')[0]}`);
    for (const test of file.testResults) {
      if (test.status !== 'failed') continue;
      out.push(`FAILED ${file.testFilePath.replace(/^.*\/test\//, 'test/')} › ${test.fullName}`);
      const message = test.failureMessages.join('\n').split('\n').filter((l) => !NOISE.test(l)).slice(0, MESSAGE_LINES);
      out.push(...message.map((line) => `    ${line}`));
    }
  }
  return out;
}

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${results.numPendingTests ? `, ${results.numPendingTests} skipped` : ''}`;
    process.stdout.write(`${line}\n`);
    if (process.env.JEST_SUMMARY_FILE) {
      writeFileSync(process.env.JEST_SUMMARY_FILE, [line, ...failures(results)].join('\n') + '\n');
    }
  }
}

module.exports = SummaryReporter;
