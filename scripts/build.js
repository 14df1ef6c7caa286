#!/usr/bin/env node
// The build: a clean dist/ (tsc never deletes outputs of removed sources), tsc, then the
// ahead-of-time schema validators.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});
require('./compile-schemas.js');
