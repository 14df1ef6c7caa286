/** Jest runs the TypeScript sources through ts-jest in transpile-only mode (the
 *  type check is `npm run typecheck`, which .ci/run also runs). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
};
