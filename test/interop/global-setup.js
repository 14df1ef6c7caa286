// Builds dist/ (the Doorstep under test; skipped when DOORSTEP_TEST_ENTRY names another build, which
// test/helpers/cluster.ts then runs) and installs Synapse 1.163.x into the venv when missing;
// later workers find its python in SYNAPSE_PYTHON.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
module.exports = async () => {
  if (!process.env.DOORSTEP_TEST_ENTRY) require('../../scripts/build-if-needed.js');
  if (!process.env.SYNAPSE_PYTHON) {
    const t0 = Date.now();
    const out = execFileSync('bash', [path.join(__dirname, '../../scripts/synapse/install.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    process.env.SYNAPSE_PYTHON = out.trim().split('\n').pop();
    console.log(`\ninterop: Synapse ready in the venv (${Date.now() - t0} ms)`);
  }
};
