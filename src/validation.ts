/**
 * Request bodies, PDUs and the config are validated against schema/. The build compiles
 * every schema ahead of time (scripts/compile-schemas.js → dist/schema/validators.js), so
 * start-up pays no Ajv compile time; run from source (tests), one Ajv compiles each schema
 * lazily on first use.
 */
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import fs from 'node:fs';
import path from 'node:path';
import { badJson } from './errors';

/** A schema is named by its file name in schema/ without `.json` (e.g. `config`, `login`). */
export type SchemaName = string;

/** From source: schema/ beside src/. */
const SCHEMA_DIR = path.resolve(__dirname, '..', 'schema');

let ajv: Ajv | undefined;
const compiled = new Map<SchemaName, ValidateFunction>();

/** The ahead-of-time validators, when running from dist/. */
const precompiled: Partial<Record<SchemaName, ValidateFunction>> | undefined = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../schema/validators.js') as Partial<Record<SchemaName, ValidateFunction>>;
  } catch {
    return undefined;
  }
})();

function validatorFor(name: SchemaName): ValidateFunction {
  let v = compiled.get(name) ?? precompiled?.[name];
  if (!v) {
    if (!ajv) {
      // Loaded lazily: requiring Ajv alone costs ~20 ms of start-up.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const AjvClass = (require('ajv') as { default: typeof Ajv }).default;
      ajv = new AjvClass({ allErrors: false, strict: false });
    }
    const file = path.join(SCHEMA_DIR, `${name}.json`);
    if (!/^[a-z0-9-]+$/.test(name) || !fs.existsSync(file)) throw new Error(`no schema named ${name}`);
    v = ajv.compile(JSON.parse(fs.readFileSync(file, 'utf8')) as object);
    compiled.set(name, v);
  }
  return v;
}

/** Human-readable path of an ajv error: `listeners[0].port`. */
export function errorPath(e: ErrorObject, root = ''): string {
  let p = root;
  for (const seg of e.instancePath.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    p += /^\d+$/.test(s) ? `[${s}]` : p ? `.${s}` : s;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    p += p ? `.${missing}` : missing;
  }
  return p || root || '(root)';
}

export function describeError(e: ErrorObject, root = ''): string {
  const where = errorPath(e, root);
  if (e.keyword === 'required') return `${where}: missing required field`;
  if (e.keyword === 'enum') return `${where}: must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  return `${where}: ${e.message ?? 'is invalid'}`;
}

/** The first validation error of `data` against a schema, or null when valid. */
export function firstError(name: SchemaName, data: unknown, root = ''): { path: string; message: string } | null {
  const v = validatorFor(name);
  if (v(data)) return null;
  const e = v.errors![0]!;
  return { path: errorPath(e, root), message: describeError(e, root) };
}

/** Validates a request body; throws 400 M_BAD_JSON naming the offending field. */
export function assertValid<T>(name: SchemaName, data: unknown): T {
  const err = firstError(name, data);
  if (err) throw badJson(err.message);
  return data as T;
}
