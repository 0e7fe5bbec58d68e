import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, as the `json-stable-stringify` package writes it (which Hive Gateway's
 * HMAC plugin uses): `undefined` members are left out, `undefined` array items become `null`, `toJSON` is honoured.
 */
export function stableStringify(value: unknown): string {
  const write = (node: unknown): string | undefined => {
    if (node !== null && typeof node === 'object' && typeof (node as { toJSON?: unknown }).toJSON === 'function') {
      node = (node as { toJSON: () => unknown }).toJSON();
    }
    if (node === undefined || typeof node === 'function' || typeof node === 'symbol') return undefined;
    if (node === null || typeof node !== 'object') return JSON.stringify(node);
    if (Array.isArray(node)) return `[${node.map((item) => write(item) ?? 'null').join(',')}]`;
    const members: string[] = [];
    for (const key of Object.keys(node).sort()) {
      const item = write((node as Record<string, unknown>)[key]);
      if (item !== undefined) members.push(`${JSON.stringify(key)}:${item}`);
    }
    return `{${members.join(',')}}`;
  };
  return write(value) ?? '';
}

/**
 * What Hive Gateway signs for a subgraph request (its `hmacSignature` option, `@graphql-mesh/hmac-upstream-signature`):
 * the stable JSON of the printed query and the variables, the variables left out when there are none. Extensions —
 * the forwarded JWT among them — are not covered; see docs/security.md for what that means and how it is closed.
 */
export function gatewaySignedContent(params: { query?: unknown; variables?: unknown }): string {
  const variables = params.variables && typeof params.variables === 'object' && Object.keys(params.variables).length > 0 ? params.variables : undefined;
  return stableStringify({ query: params.query, variables });
}

/** Base64 HMAC-SHA256 of the signed content under the shared secret: the value of `extensions["hmac-signature"]`. */
export function signGatewayRequest(params: { query?: unknown; variables?: unknown }, secret: string): string {
  return createHmac('sha256', secret).update(gatewaySignedContent(params), 'utf8').digest('base64');
}

/** Constant-time check of a request's `hmac-signature` extension. */
export function verifyGatewaySignature(params: { query?: unknown; variables?: unknown }, signature: unknown, secret: string): boolean {
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > 256) return false;
  const expected = createHmac('sha256', secret).update(gatewaySignedContent(params), 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
