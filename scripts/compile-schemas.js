#!/usr/bin/env node
// Compiles every schema in schema/ into one standalone validator module (dist/schema/validators.js),
// so the server does not pay Ajv's compile time (~60 ms for the config schema) at start-up.
// src/validation.ts uses it when present and compiles at runtime otherwise (tests from source).
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv').default;
const standaloneCode = require('ajv/dist/standalone').default;

const root = path.resolve(__dirname, '..');
const schemaDir = path.join(root, 'schema');
const ajv = new Ajv({ allErrors: false, strict: false, code: { source: true } });
const exportsMap = {};
for (const f of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.json')).sort()) {
  const schema = JSON.parse(fs.readFileSync(path.join(schemaDir, f), 'utf8'));
  const name = path.basename(f, '.json');
  ajv.addSchema(schema, name);
  exportsMap[name] = name;
}
const out = path.join(root, 'dist', 'schema', 'validators.js');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, standaloneCode(ajv, exportsMap));
