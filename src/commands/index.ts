// Every command's code, behind the one dynamic import in cli.ts: parsing options, `--help` and usage errors
// load none of it (issue 11: `--help` within 60 ms of `node -e 0`).
export { auditVerifyCommand } from './audit.js';
export { checkCommand } from './check.js';
export { clientCommand } from './client.js';
export { crlCommand } from './crl.js';
export { doctorCommand } from './doctor.js';
export { initCommand } from './init.js';
export { intermediateCommand } from './intermediate.js';
export { listCommand } from './list.js';
export { say } from './output.js';
export { renewCommand } from './renew.js';
export { revokeCommand } from './revoke.js';
export { rootCommand } from './root.js';
export { leafSource, serverCommand } from './server.js';
export { showCommand } from './show.js';
export { statusCommand } from './status.js';
export { run } from '../tools/run.js';
