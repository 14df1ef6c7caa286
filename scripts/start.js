#!/usr/bin/env node
// `npm start`: runs the built server with ./config.yaml if present, else config.example.yaml.
// Extra arguments (`npm start -- --config other.yaml`) win.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
if (!args.some((a) => a === '--config' || a === '-c' || a.startsWith('--config='))) {
  const own = path.join(process.cwd(), 'config.yaml');
  args.push('--config', fs.existsSync(own) ? own : path.join(root, 'config.example.yaml'));
}
process.argv = [process.argv[0], path.join(root, 'dist', 'src', 'main.js'), ...args];
require(path.join(root, 'dist', 'src', 'main.js'));
