#!/usr/bin/env node
// The build: a clean dist/ (tsc never deletes outputs of removed sources), tsc, the ahead-of-time
// schema validators, then what ships:
//   dist/server.js          the server (dist/src/main.js and its dependencies) bundled by esbuild
//   dist/doorstep.js        the entry point (src/launcher.ts): runs dist/server.js with a V8 code cache
//   dist/server.js.v8cache  that cache, made by starting the built server once (scripts/warm-code-cache.js)
// dist/src stays: the tests import some of it, and the bundle is made from it.
// Run it as a process (`npm run build`, scripts/build-if-needed.js): the esbuild step is async.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

// One line per step on stderr, so a first `npm start` (which builds, ~5-10 s) is not silent.
const started = Date.now();
const step = (what) => process.stderr.write(`build: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);

async function build() {
  fs.rmSync(dist, { recursive: true, force: true });
  step('compiling TypeScript (tsc)');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
  step('compiling the JSON Schema validators (ajv)');
  require('./compile-schemas.js');
  step('bundling the server (esbuild)');

  const esbuild = require('esbuild');
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Whitespace and syntax only: identifiers, and so stack traces, stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii', // the launcher reads the bundle as latin1
    logLevel: 'warning',
    absWorkingDir: root,
  };
  await esbuild.build({
    ...common,
    entryPoints: [path.join(dist, 'src', 'main.js')],
    outfile: path.join(dist, 'server.js'),
    // better-sqlite3: a native addon; undici (outbound federation): its bundled licence comments are
    // not ASCII, and it loads from node_modules as it does in development; sharp (thumbnails): a
    // native addon with its prebuilt libvips, loaded on the first thumbnail.
    external: ['better-sqlite3', 'undici', 'sharp'],
    plugins: [
      {
        // src/validation.ts falls back to compiling schemas with the full Ajv when
        // dist/schema/validators.js is missing. The bundle always has those validators, so Ajv
        // itself (200 KB) stays out of it; the fallback would still work (ajv is a dependency).
        name: 'ajv-fallback-external',
        setup(b) {
          b.onResolve({ filter: /^ajv$/ }, () => ({ path: 'ajv', external: true }));
        },
      },
    ],
  });
  // The launcher wraps the bundle in a function, where main.ts's `#!` line would be a syntax
  // error: make it a comment (same length, same line numbers).
  const server = fs.readFileSync(path.join(dist, 'server.js'));
  if (server[0] === 0x23 && server[1] === 0x21) server.write('//', 0, 'latin1');
  if (server.some((b) => b > 0x7f)) throw new Error('dist/server.js is not pure ASCII (the launcher reads it as latin1)');
  fs.writeFileSync(path.join(dist, 'server.js'), server);

  await esbuild.build({
    ...common,
    minifyWhitespace: false, // small, and readable where it is installed
    minifySyntax: false,
    entryPoints: [path.join(root, 'src', 'launcher.ts')],
    outfile: path.join(dist, 'doorstep.js'),
  });
  fs.chmodSync(path.join(dist, 'doorstep.js'), 0o755);

  step('warming the V8 code cache (starts the server once)');
  await require('./warm-code-cache.js').warmCodeCache();
  step('done');
}

build().catch((e) => {
  process.stderr.write(`build: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
