/**
 * Query-string parameters at the edge: one value each, integers and enums checked, JSON
 * parameters (filters) parsed and validated against schema/. Bad input is 400 M_INVALID_PARAM
 * (a required one that is absent: 400 M_MISSING_PARAM).
 */
import type { Request } from 'express';
import { invalidParam, missingParam } from '../errors';
import { firstError, type SchemaName } from '../validation';
import type { RouteRequest } from './route';

/** An Express request or a route's request (route.ts): both carry the query string. */
export type WithQuery = Pick<Request, 'query'> | Pick<RouteRequest, 'query'>;

/** Every value of `name`, in order (a non-string value, from an Express parser, is refused). */
export function queryValues(req: WithQuery, name: string): string[] {
  if (typeof req.query === 'function') return req.query(name);
  const v: unknown = req.query[name];
  if (v === undefined) return [];
  const list: unknown[] = Array.isArray(v) ? v : [v];
  if (!list.every((x): x is string => typeof x === 'string')) throw invalidParam(`${name} must be strings`);
  return list;
}

export function queryString(req: WithQuery, name: string): string | undefined {
  const v = queryValues(req, name);
  if (v.length === 0) return undefined;
  if (v.length > 1) throw invalidParam(`${name} must be given once, as a string`);
  return v[0];
}

export function requiredQueryString(req: WithQuery, name: string): string {
  const v = queryString(req, name);
  if (v === undefined) throw missingParam(`Missing ${name} parameter`);
  return v;
}

/** The one value of `name`, or undefined when it is absent or repeated (lenient: never an error). */
export function querySingle(req: WithQuery, name: string): string | undefined {
  const v = queryValues(req, name);
  return v.length === 1 ? v[0] : undefined;
}

/**
 * The named parameters as an object for a schema to validate, shaped as Express's query parser
 * shapes them: an absent one is left out, a single one is a string, a repeated one an array.
 */
export function queryObject(req: WithQuery, names: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of names) {
    const v = queryValues(req, name);
    if (v.length > 0) out[name] = v.length === 1 ? v[0]! : v;
  }
  return out;
}

/** A non-negative decimal integer no larger than `max` (when given). */
export function queryInt(req: WithQuery, name: string, opts: { max?: number } = {}): number | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw invalidParam(`${name} must be a non-negative integer`);
  const n = Number(v);
  return opts.max !== undefined ? Math.min(n, opts.max) : n;
}

export function queryEnum<T extends string>(req: WithQuery, name: string, values: readonly T[]): T | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw invalidParam(`${name} must be one of ${values.join(', ')}`);
  return v as T;
}

/** A JSON object passed in the query string (e.g. `filter`), validated against a schema. */
export function queryJson<T>(req: WithQuery, name: string, schema: SchemaName): T | undefined {
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
