import { createCipheriv, createHash, createHmac, timingSafeEqual } from 'crypto';

/**
 * The Tencent Cloud side of the wire: checking a TC3-HMAC-SHA256 request as the API gateway does, and producing the
 * encrypted, signed callbacks Electronic Signature sends. docs/providers/tencent.md.
 *
 * Written from the receiver's point of view: everything is recomputed from what arrived (the Authorization header's
 * own SignedHeaders list, the raw body bytes), never from what a client would have chosen to sign.
 */

const ALGORITHM = 'TC3-HMAC-SHA256';
const TERMINATOR = 'tc3_request';
/** "Timestamp 和服务器时间相差不得超过五分钟" — more than 300 s either way is refused. */
const MAX_SKEW_SECONDS = 300;
/** Tencent requires these two in every signature ("content-type 和 host 为必选头部"). */
const REQUIRED_SIGNED_HEADERS = ['content-type', 'host'] as const;

export type Tc3FailureCode =
  | 'AuthFailure.SignatureFailure'
  | 'AuthFailure.SignatureExpire'
  | 'AuthFailure.SecretIdNotFound'
  | 'AuthFailure.InvalidAuthorization'
  | 'MissingParameter';

export interface Tc3Request {
  method: string;
  /** The canonical URI the client signed (`/` for essbasic), relative to the emulated endpoint, not the mount. */
  path: string;
  /** Raw query string without `?`; empty for the POST calls essbasic takes. */
  query?: string;
  /** Header names lower-cased, as node's `IncomingMessage.headers` gives them. */
  headers: Record<string, string | undefined>;
  /** Raw body exactly as received; the signature covers its bytes, not a re-serialisation. */
  body: Buffer | string;
  /** Current time, Unix seconds. */
  now: number;
  lookupSecret: (secretId: string) => string | undefined;
  /** Service in the credential scope; `essbasic` unless emulating another product (the doc vectors use `cvm`). */
  service?: string;
}

export type Tc3Result = { ok: true; secretId: string } | { ok: false; code: Tc3FailureCode; message: string };

// Messages follow Tencent Cloud API 3.0's English answers where they are known ("The provided credentials could not
// be validated…", "The SecretId is not found…", "The request is missing a required parameter `…`."); the detail
// appended to each (which check failed, which values) is ours, so a developer can see what to fix.
const SIGNATURE_FAILURE = 'The provided credentials could not be validated. Please check your signature is correct.';
const SECRET_ID_NOT_FOUND = 'The SecretId is not found, please ensure that your SecretId is correct.';
const INVALID_AUTHORIZATION = 'The `Authorization` header is invalid';

function fail(code: Tc3FailureCode, message: string): Tc3Result {
  return { ok: false, code, message };
}

interface ParsedAuthorization {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string;
  signature: string;
}

/**
 * Parses `TC3-HMAC-SHA256 Credential={SecretId}/{date}/{service}/tc3_request, SignedHeaders={…}, Signature={hex}`.
 * Returns a reason string instead of throwing, so the caller can answer InvalidAuthorization with it.
 */
function parseAuthorization(value: string): ParsedAuthorization | string {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM) {
    return `the algorithm must be ${ALGORITHM}, got \`${algorithm}\``;
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return `\`${part.trim()}\` is not a key=value pair`;
    const key = part.slice(0, eq).trim();
    if (fields.has(key)) return `\`${key}\` appears twice`;
    fields.set(key, part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return 'it must carry Credential, SignedHeaders and Signature';
  }
  const scope = credential.split('/');
  if (scope.length !== 4 || scope.some((s) => s === '') || scope[3] !== TERMINATOR) {
    return `Credential must be {SecretId}/{date}/{service}/${TERMINATOR}`;
  }
  const [secretId, date, service] = scope as [string, string, string, string];
  return { secretId, date, service, signedHeaders, signature };
}

/** SignedHeaders must be lower-case, sorted, distinct names, including content-type and host (docs/providers/tencent.md). */
function checkSignedHeaders(signedHeaders: string): string[] | string {
  const names = signedHeaders.split(';');
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (!/^[a-z0-9-]+$/.test(name)) return `SignedHeaders entry \`${name}\` is not a lower-case header name`;
    if (i > 0 && !((names[i - 1] as string) < name)) return 'SignedHeaders must be sorted and without duplicates';
  }
  for (const required of REQUIRED_SIGNED_HEADERS) {
    if (!names.includes(required)) return `SignedHeaders must include ${REQUIRED_SIGNED_HEADERS.join(' and ')}`;
  }
  return names;
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function utcDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}

/**
 * The canonical header blocks worth trying. Tencent's own example lower-cases the `x-tc-action` value while its SDKs
 * send it as-is; the gateway accepts either, so when the action is signed both spellings are candidates.
 */
function canonicalHeaderCandidates(names: string[], headers: Record<string, string | undefined>): string[] {
  const lines = names.map((name) => [name, (headers[name] ?? '').trim()] as const);
  const render = (lowerAction: boolean): string =>
    lines.map(([n, v]) => `${n}:${lowerAction && n === 'x-tc-action' ? v.toLowerCase() : v}\n`).join('');
  const lowered = render(true);
  const asSent = render(false);
  return lowered === asSent ? [lowered] : [lowered, asSent];
}

function hexEqual(expectedHex: string, receivedHex: string): boolean {
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(receivedHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Verifies a TC3-HMAC-SHA256 signed request the way Tencent Cloud's API gateway does (docs/providers/tencent.md): the
 * canonical request is rebuilt from the headers the Authorization header says it signed, hashed with the raw body,
 * and the signature recomputed with the key derived for the credential's date and service.
 *
 * Checks, in order: Authorization and X-TC-Timestamp present (MissingParameter); Authorization well formed
 * (AuthFailure.InvalidAuthorization); timestamp within 300 s of `now` (AuthFailure.SignatureExpire); SecretId known
 * (AuthFailure.SecretIdNotFound); credential date equal to the timestamp's UTC date and signature matching
 * (AuthFailure.SignatureFailure). The signature comparison is constant-time.
 */
export function verifyTc3(req: Tc3Request): Tc3Result {
  const service = req.service ?? 'essbasic';
  const authorization = req.headers['authorization'];
  if (authorization === undefined || authorization.trim() === '') {
    return fail('MissingParameter', 'The request is missing a required parameter `Authorization`.');
  }
  const timestampHeader = req.headers['x-tc-timestamp'];
  if (timestampHeader === undefined || timestampHeader.trim() === '') {
    return fail('MissingParameter', 'The request is missing a required parameter `X-TC-Timestamp`.');
  }

  const parsed = parseAuthorization(authorization);
  if (typeof parsed === 'string') {
    return fail('AuthFailure.InvalidAuthorization', `${INVALID_AUTHORIZATION}: ${parsed}.`);
  }
  if (parsed.service !== service) {
    return fail(
      'AuthFailure.InvalidAuthorization',
      `${INVALID_AUTHORIZATION}: the credential scope names service \`${parsed.service}\`, expected \`${service}\`.`,
    );
  }
  const signedNames = checkSignedHeaders(parsed.signedHeaders);
  if (typeof signedNames === 'string') {
    return fail('AuthFailure.InvalidAuthorization', `${INVALID_AUTHORIZATION}: ${signedNames}.`);
  }

  const timestampText = timestampHeader.trim();
  const timestamp = /^\d{1,12}$/.test(timestampText) ? Number(timestampText) : Number.NaN;
  if (Number.isNaN(timestamp) || Math.abs(req.now - timestamp) > MAX_SKEW_SECONDS) {
    return fail(
      'AuthFailure.SignatureExpire',
      `Signature expired. Timestamp is ${timestampText}, server time is ${req.now}; ` +
        `they must not differ by more than ${MAX_SKEW_SECONDS} seconds.`,
    );
  }

  const secretKey = req.lookupSecret(parsed.secretId);
  if (secretKey === undefined) {
    return fail('AuthFailure.SecretIdNotFound', SECRET_ID_NOT_FOUND);
  }

  const date = utcDate(timestamp);
  if (parsed.date !== date) {
    return fail(
      'AuthFailure.SignatureFailure',
      `${SIGNATURE_FAILURE} The credential date ${parsed.date} is not the UTC date of X-TC-Timestamp (${date}).`,
    );
  }
  if (!/^[0-9a-f]{64}$/.test(parsed.signature)) {
    return fail('AuthFailure.SignatureFailure', `${SIGNATURE_FAILURE} The signature is not 64 lower-case hex digits.`);
  }

  const signingKey = hmac(hmac(hmac(`TC3${secretKey}`, date), service), TERMINATOR);
  const scope = `${date}/${service}/${TERMINATOR}`;
  const bodyHash = sha256Hex(req.body);
  let matched = false;
  for (const canonicalHeaders of canonicalHeaderCandidates(signedNames, req.headers)) {
    const canonicalRequest = [
      req.method.toUpperCase(),
      req.path,
      req.query ?? '',
      canonicalHeaders,
      parsed.signedHeaders,
      bodyHash,
    ].join('\n');
    const stringToSign = `${ALGORITHM}\n${timestampText}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
    // Not short-circuited, so the time taken does not reveal which candidate matched.
    matched = hexEqual(expected, parsed.signature) || matched;
  }
  if (!matched) {
    return fail('AuthFailure.SignatureFailure', SIGNATURE_FAILURE);
  }
  return { ok: true, secretId: parsed.secretId };
}

/**
 * Encrypts a callback message as Electronic Signature does when a CallbackKey is configured (docs/providers/tencent.md,
 * Callbacks): AES-256-CBC, key = the 32 UTF-8 bytes of the CallbackKey, IV = its first 16 bytes, PKCS#7 padding,
 * Base64. The result goes in the body as `{"encrypt":"<result>"}`.
 *
 * @throws RangeError when the key is not exactly 32 bytes, which the console would not have accepted.
 */
export function encryptCallback(plaintext: string, callbackKey: string): string {
  const key = Buffer.from(callbackKey, 'utf8');
  if (key.length !== 32) {
    throw new RangeError(`The Tencent callback key must be 32 bytes, got ${key.length}`);
  }
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

/**
 * The `Content-Signature` header of a callback when a callback token is configured (docs/providers/tencent.md, Callbacks):
 * `sha256=` + lower-hex HMAC-SHA256 keyed with the token over the raw body bytes as sent.
 */
export function contentSignature(rawBody: string, token: string): string {
  return `sha256=${createHmac('sha256', token).update(rawBody, 'utf8').digest('hex')}`;
}
