#!/usr/bin/env node
// `npm start`: runs the built server (dist/doorstep.js, in this process) with ./config.yaml if
// present, else config.example.yaml.
// Extra arguments (`npm start -- --config other.yaml`) win.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
if (!args.some((a) => a === '--config' || a === '-c' || a.startsWith('--config='))) {
  const own = path.join(process.cwd(), 'config.yaml');
  args.push('--config', fs.existsSync(own) ? own : path.join(root, 'config.example.yaml'));
}
const main = path.join(root, 'dist', 'doorstep.js');
process.argv = [process.argv[0], main, ...args];
require(main);
