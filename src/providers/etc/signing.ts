import { createSign, randomInt, type KeyObject } from 'node:crypto';

/** The envelope fields that are signed, beside the scalar params (docs/providers/etc.md "Signature"). */
export interface EtcSignedEnvelope {
  appId: string;
  nonce: string;
  timestamp: number;
  apiCode: string;
  params: Record<string, unknown>;
}

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * `appId`, `nonce`, `timestamp`, `apiCode` and every scalar field of `params` (objects, arrays and nulls are left
 * out), sorted by key, joined as `key=value` with `&`. Numbers print plainly (`String(1604990109987)`).
 */
export function etcStringToSign(envelope: EtcSignedEnvelope): string {
  const fields: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(envelope.params)) if (isScalar(value)) fields[key] = value;
  fields.appId = envelope.appId;
  fields.nonce = envelope.nonce;
  fields.timestamp = envelope.timestamp;
  fields.apiCode = envelope.apiCode;
  return Object.keys(fields)
    .sort()
    .map((key) => `${key}=${String(fields[key])}`)
    .join('&');
}

/** SHA1withRSA over the UTF-8 bytes, Base64: what the gateway verifies with the app's public key. */
export function etcSign(stringToSign: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA1').update(stringToSign, 'utf8').sign(privateKey, 'base64');
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Six random characters; the gateway refuses a nonce it saw in the last 60 s, so each attempt draws a new one. */
export function etcNonce(): string {
  let nonce = '';
  for (let i = 0; i < 6; i++) nonce += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  return nonce;
}
