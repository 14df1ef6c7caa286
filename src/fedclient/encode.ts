/**
 * URI encoding for federation requests. The X-Matrix signature covers the request-target exactly
 * as sent (spec "Request Authentication": `uri`), so the encoded string is built once here and used
 * both on the wire and in the signed object.
 */

/**
 * encodeURIComponent, plus `!'()*` (which it leaves raw): the same bytes as Python's
 * `urllib.parse.quote(s, safe="")` that Synapse uses for path segments.
 */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `?a=1&ver=10&ver=11` (an array value repeats its key), or '' for no parameters. */
export function queryString(query: Record<string, string | readonly string[]> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    const values: readonly string[] = typeof value === 'string' ? [value] : value;
    for (const v of values) parts.push(`${encodeSegment(key)}=${encodeSegment(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}
