/** Jest runs the TypeScript sources through ts-jest in transpile-only mode (isolatedModules in
 *  tsconfig.json); the type check is `npm run typecheck`, which .ci/run also runs.
 *  matrix-js-sdk and a few of its dependencies are ESM-only: ts-jest transpiles them to CommonJS
 *  (notes/clients.md §3.3). */
const esmOnly = ['matrix-js-sdk', 'p-retry', 'is-network-error', 'content-type', 'base-x', 'bs58'];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/setup/polyfills.js'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    '^.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true, target: 'ES2022', module: 'commonjs', esModuleInterop: true, skipLibCheck: true } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  // matrix-js-sdk arms un-cleared timers per /sync request (notes/clients.md §3.2).
  forceExit: true,
};
