/** The interop suite (`npm run test:interop`, issue 13): Doorstep against a real Synapse on
 *  loopback. Its files end in .interop.ts so the ordinary `npm test` (which matches *.test.ts) does
 *  not run them. The global setup builds dist/ and installs Synapse into .venv-synapse/ when missing. */
const path = require('node:path');
const base = require('../../jest.config.js');
module.exports = {
  ...base,
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/test/interop'],
  testMatch: ['**/*.interop.ts'],
  globalSetup: '<rootDir>/test/interop/global-setup.js',
  testTimeout: 120000,
  maxWorkers: 1,
};
