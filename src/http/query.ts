/**
 * Query-string parameters at the edge: one value each, integers and enums checked, JSON
 * parameters (filters) parsed and validated against schema/. Bad input is 400 M_INVALID_PARAM
 * (a required one that is absent: 400 M_MISSING_PARAM).
 */
import type { Request } from 'express';
import { invalidParam, missingParam } from '../errors';
import { firstError, type SchemaName } from '../validation';

export function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidParam(`${name} must be given once, as a string`);
  return v;
}

export function requiredQueryString(req: Request, name: string): string {
  const v = queryString(req, name);
  if (v === undefined) throw missingParam(`Missing ${name} parameter`);
  return v;
}

/** A non-negative decimal integer no larger than `max` (when given). */
export function queryInt(req: Request, name: string, opts: { max?: number } = {}): number | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw invalidParam(`${name} must be a non-negative integer`);
  const n = Number(v);
  return opts.max !== undefined ? Math.min(n, opts.max) : n;
}

export function queryEnum<T extends string>(req: Request, name: string, values: readonly T[]): T | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw invalidParam(`${name} must be one of ${values.join(', ')}`);
  return v as T;
}

/** A JSON object passed in the query string (e.g. `filter`), validated against a schema. */
export function queryJson<T>(req: Request, name: string, schema: SchemaName): T | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw invalidParam(`${name} is not valid JSON`);
  }
  const err = firstError(schema, parsed, name);
  if (err) throw invalidParam(err.message);
  return parsed as T;
}
