import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'crypto';

/** A header the TC3 canonical request may cover. `content-type` and `host` are mandatory. */
export type Tc3SignedHeader = 'content-type' | 'host' | 'x-tc-action';

export interface Tc3SignInput {
  secretId: string;
  secretKey: string;
  /** Product service name, e.g. `essbasic`; part of the credential scope. */
  service: string;
  host: string;
  action: string;
  /** Unix seconds; the same value must be sent as `X-TC-Timestamp`. */
  timestamp: number;
  /** Exactly the `Content-Type` header value that is sent. */
  contentType: string;
  /** Exactly the body bytes that are sent (as a UTF-8 string). */
  body: string;
  /** Defaults to `['content-type', 'host']`, which is what the official Node SDK signs. */
  signedHeaders?: readonly Tc3SignedHeader[];
}

export interface Tc3Signature {
  /** Value of the `Authorization` header. */
  authorization: string;
  signature: string;
  canonicalRequest: string;
  canonicalRequestHash: string;
  stringToSign: string;
  /** UTC date of the timestamp, `YYYY-MM-DD`. */
  date: string;
  bodyHash: string;
}

const ALGORITHM = 'TC3-HMAC-SHA256';
const DEFAULT_SIGNED_HEADERS: readonly Tc3SignedHeader[] = ['content-type', 'host'];

const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Signs a Tencent Cloud API 3.0 request with TC3-HMAC-SHA256 (docs/providers/tencent.md "TC3-HMAC-SHA256"). Returns every
 * intermediate value so a failing signature can be diagnosed against the provider's own error message, which
 * quotes the canonical request it computed. Pure: the timestamp is an input, so a retry re-signs with a fresh one.
 */
export function tc3Sign(input: Tc3SignInput): Tc3Signature {
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError(`timestamp must be a non-negative integer of Unix seconds, got ${input.timestamp}`);
  }
  const names = [...new Set(input.signedHeaders ?? DEFAULT_SIGNED_HEADERS)].sort();
  if (!names.includes('content-type') || !names.includes('host')) {
    throw new RangeError('signedHeaders must include content-type and host');
  }
  const values: Record<Tc3SignedHeader, string> = {
    'content-type': input.contentType,
    host: input.host,
    // The documented example signs the action lower-cased, while the header itself keeps its case.
    'x-tc-action': input.action.toLowerCase(),
  };
  const canonicalHeaders = names.map((name) => `${name}:${values[name]}\n`).join('');
  const signedHeaders = names.join(';');
  const bodyHash = sha256Hex(input.body);
  // Every call is `POST /` with no query string.
  const canonicalRequest = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${bodyHash}`;
  const canonicalRequestHash = sha256Hex(canonicalRequest);

  const date = new Date(input.timestamp * 1000).toISOString().slice(0, 10);
  const scope = `${date}/${input.service}/tc3_request`;
  const stringToSign = `${ALGORITHM}\n${input.timestamp}\n${scope}\n${canonicalRequestHash}`;

  const kDate = hmac(`TC3${input.secretKey}`, date);
  const kService = hmac(kDate, input.service);
  const kSigning = hmac(kService, 'tc3_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');

  const authorization =
    `${ALGORITHM} Credential=${input.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { authorization, signature, canonicalRequest, canonicalRequestHash, stringToSign, date, bodyHash };
}

/** A callback whose `encrypt` field cannot be turned back into plaintext; `message` says which step failed. */
export class CallbackCryptoError extends Error {
  override readonly name = 'CallbackCryptoError';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const AES_BLOCK = 16;

/**
 * Decrypts the `encrypt` field of a Tencent e-sign callback (docs/providers/tencent.md "Callbacks"): Base64, then
 * AES-256-CBC with the 32-byte callback key and IV = its first 16 bytes, PKCS#7 padding, UTF-8 plaintext.
 * Throws {@link CallbackCryptoError} rather than returning garbage, so a wrong key is never mistaken for a message.
 */
export function decryptCallback(encrypt: string, callbackKey: string): string {
  const key = Buffer.from(callbackKey, 'utf8');
  if (key.length !== 32) {
    throw new CallbackCryptoError(`callback key must be 32 bytes, got ${key.length}`);
  }
  // Buffer.from(…, 'base64') silently skips junk, so the alphabet and padding are checked first.
  if (encrypt.length === 0 || !BASE64.test(encrypt)) {
    throw new CallbackCryptoError('encrypt is not valid base64');
  }
  const ciphertext = Buffer.from(encrypt, 'base64');
  if (ciphertext.length % AES_BLOCK !== 0) {
    throw new CallbackCryptoError(`ciphertext length ${ciphertext.length} is not a multiple of ${AES_BLOCK}`);
  }
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, AES_BLOCK));
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new CallbackCryptoError('decryption failed: bad padding or wrong key');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    throw new CallbackCryptoError('decrypted plaintext is not valid UTF-8');
  }
}

const CONTENT_SIGNATURE = /^sha256=([0-9a-f]{64})$/;

/**
 * Checks a callback's `Content-Signature: sha256=<hex HMAC-SHA256(token, raw body)>` header (docs/providers/tencent.md
 * "Callbacks"). Must be given the raw body bytes as received, before any JSON parsing. Constant-time; returns false
 * for a missing or malformed header instead of throwing, since both mean "not from the provider".
 */
export function verifyContentSignature(rawBody: Buffer | string, token: string, header: string | undefined): boolean {
  const match = header === undefined ? null : CONTENT_SIGNATURE.exec(header.trim());
  if (match === null) {
    return false;
  }
  const expected = createHmac('sha256', token).update(rawBody).digest();
  const received = Buffer.from(match[1], 'hex');
  return received.length === expected.length && timingSafeEqual(received, expected);
}
