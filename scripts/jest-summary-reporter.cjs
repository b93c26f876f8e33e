// Prints jest's totals as one plain line, "N passed, N failed", which CI reads; with JEST_SUMMARY_FILE set
// it also writes the line there so .ci/run can print it last, after npm's own messages.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${results.numPendingTests ? `, ${results.numPendingTests} skipped` : ''}`;
    process.stdout.write(`${line}\n`);
    if (process.env.JEST_SUMMARY_FILE) writeFileSync(process.env.JEST_SUMMARY_FILE, `${line}\n`);
  }
}

module.exports = SummaryReporter;
