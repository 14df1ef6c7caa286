#!/usr/bin/env node
// Builds dist/ with tsc when it is missing or older than any source file (used by `npm start`).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'dist', 'src', 'main.js');

function newest(p) {
  let st;
  try { st = fs.statSync(p); } catch { return 0; }
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

const built = newest(target);
const sources = Math.max(
  newest(path.join(root, 'src')), newest(path.join(root, 'schema')), newest(path.join(root, 'package.json')),
  newest(path.join(root, 'tsconfig.json')), newest(path.join(root, 'tsconfig.build.json')),
);
if (!built || sources > built) {
  process.stderr.write('doorstep: building (tsc)…\n');
  require('./build.js');
  fs.utimesSync(target, new Date(), new Date());
}
