import { createPublicKey, createVerify, type KeyObject } from 'crypto';

/**
 * The ETC gateway's request signature, checked the way the gateway does (docs/providers/etc.md, "Signature"):
 * appId, nonce, timestamp, apiCode and every scalar field of params, sorted by key, joined as `key=value` with
 * `&`, SHA1withRSA over the UTF-8 bytes, Base64.
 *
 * Written independently of the client signer in `src/providers`: both are held to the doc vector separately.
 */

/** The application of the published sample key pair (a test key, never a real one). */
export const ETC_SAMPLE_APP_ID = 'OIG0AF4DMOK2VC2N';

/** Public half of the published sample key pair: SPKI, DER, Base64. */
export const ETC_SAMPLE_PUBLIC_KEY =
  'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCWJp6jtuKcpR+g+PiQbM5+dmVfobLFvu+wmqDbJ6zwlLQ/GVwT0OrYjzIZBciTa0jEVLELYTipUg90Pqz6Y7ABgGvuDoRVLPEdqCvb3o90hfu82dOHCiRvny4xsWuEdm5s1W7m2S/gQJPWNqmtSClezTUu409/DurBMxUQYpNcmwIDAQAB';

const TOP_LEVEL_SIGNED = ['appId', 'nonce', 'timestamp', 'apiCode'] as const;

export interface EtcSignedRequest {
  appId: unknown;
  nonce: unknown;
  timestamp: unknown;
  apiCode: unknown;
  params: unknown;
}

/**
 * How a value is printed in the string to sign, or undefined when it takes no part. Strings as they are, numbers
 * plainly (`1604990109987`), booleans as `true`/`false`. Objects and arrays are left out (documented); so is
 * `null` (inferred: the doc speaks only of objects and arrays, and a JSON null carries no scalar value).
 */
function scalarText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return String(value);
    default:
      return undefined;
  }
}

/**
 * The exact string the gateway verifies. A key of params that repeats a top-level name (`appId`, …) is left out
 * so a request cannot sign two values for one key (inferred; the doc does not say).
 */
export function canonicalString(request: EtcSignedRequest): string {
  const entries = new Map<string, string>();
  for (const key of TOP_LEVEL_SIGNED) {
    const text = scalarText(request[key]);
    if (text !== undefined) entries.set(key, text);
  }
  const params = request.params;
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    for (const [key, value] of Object.entries(params as Record<string, unknown>)) {
      if ((TOP_LEVEL_SIGNED as readonly string[]).includes(key)) continue;
      const text = scalarText(value);
      if (text !== undefined) entries.set(key, text);
    }
  }
  return [...entries.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => `${key}=${entries.get(key)}`)
    .join('&');
}

/** Reads an application's public key as registered with the gateway (SPKI, DER, Base64). Throws when malformed. */
export function parsePublicKey(spkiBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** SHA1withRSA verification of a Base64 signature over the UTF-8 bytes of `canonical`. Never throws. */
export function verifySignature(canonical: string, signatureBase64: string, publicKey: KeyObject): boolean {
  if (!BASE64.test(signatureBase64)) return false;
  try {
    return createVerify('RSA-SHA1').update(canonical, 'utf8').verify(publicKey, signatureBase64, 'base64');
  } catch {
    return false;
  }
}
