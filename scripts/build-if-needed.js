#!/usr/bin/env node
// Runs the build (scripts/build.js) when dist/doorstep.js is missing or older than any source
// file (used by `npm start` and the jest global setup).
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
// Written last but one by the build (the code cache follows), so it exists only after a full build.
const target = path.join(root, 'dist', 'doorstep.js');

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
  newest(path.join(root, 'scripts')),
);
if (!built || sources > built) {
  process.stderr.write('doorstep: dist/ is missing or older than the sources: building it (about 10 s the first time)\n');
  execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit', cwd: root });
  fs.utimesSync(target, new Date(), new Date());
}
