import { createHash, createHmac, timingSafeEqual } from 'crypto';

/** The only `Accept` value the e签宝 examples use; it is part of the string to sign. */
export const ESIGN_ACCEPT = '*/*';
/** Content type of every JSON request; it is part of the string to sign whenever there is a body. */
export const ESIGN_JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';
/** e签宝 accepts a request timestamp up to 15 minutes old; callbacks get the same window by default. */
export const ESIGN_DEFAULT_TOLERANCE_MS = 15 * 60 * 1000;

/**
 * `Content-MD5` of a request body: Base64 of the MD5 of its bytes, `''` for no body (docs/providers/esign.md "Request
 * signing"). The digest covers the exact bytes sent, so compute it from the serialized body, never re-serialize.
 */
export function contentMd5(body: string | Buffer): string {
  if (body.length === 0) {
    return '';
  }
  return createHash('md5').update(body).digest('base64');
}

/**
 * Builds the path-and-query that is both signed and sent (docs/providers/esign.md "Request signing": query parameters
 * sorted by key). Undefined values are dropped; an empty value keeps only its key (the Aliyun-gateway convention
 * e签宝's scheme follows — inferred, not in the e签宝 text). Keys and values are percent-encoded with
 * `encodeURIComponent`, so the string is valid on the wire as is and the server sees exactly what was signed.
 * `path` is used verbatim: callers percent-encode any id they put into it.
 */
export function canonicalPathAndQuery(path: string, query?: Record<string, string | undefined>): string {
  if (path.includes('?')) {
    throw new RangeError('path must not contain a query string; pass the parameters in query');
  }
  const pairs = Object.entries(query ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) =>
      value === '' ? encodeURIComponent(key) : `${encodeURIComponent(key)}=${encodeURIComponent(value)}`,
    );
  return pairs.length === 0 ? path : `${path}?${pairs.join('&')}`;
}

export interface EsignStringToSignParams {
  method: string;
  /** Defaults to `*\/*`. */
  accept?: string;
  /** `''` when there is no body. */
  contentMd5: string;
  /** `''` when there is no body. */
  contentType: string;
  /** Defaults to `''`: requests carry no `Date` header, but the line is still present. */
  date?: string;
  /** Headers listed in `X-Tsign-Open-Ca-Signature-Headers`; usually none. */
  headers?: Record<string, string>;
  /** Exactly what is sent after the host; build it with {@link canonicalPathAndQuery}. */
  pathAndQuery: string;
}

/**
 * The string e签宝 signs (docs/providers/esign.md "Request signing"):
 * `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` + sorted `key:value\n` signed headers + path-and-query.
 * Empty fields keep their newline, which is why a GET reads `GET\n*\/*\n\n\n\n/path`.
 */
export function esignStringToSign(p: EsignStringToSignParams): string {
  const headerLines = Object.entries(p.headers ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}:${value}\n`)
    .join('');
  return (
    `${p.method.toUpperCase()}\n${p.accept ?? ESIGN_ACCEPT}\n${p.contentMd5}\n${p.contentType}\n${p.date ?? ''}\n` +
    `${headerLines}${p.pathAndQuery}`
  );
}

/** `X-Tsign-Open-Ca-Signature`: Base64(HMAC-SHA256(AppSecret, string to sign)) (docs/providers/esign.md). */
export function esignSignature(appSecret: string, stringToSign: string): string {
  return createHmac('sha256', appSecret).update(stringToSign, 'utf8').digest('base64');
}

export interface EsignRequestHeadersParams {
  appId: string;
  appSecret: string;
  method: string;
  /** Exactly what is sent after the host; build it with {@link canonicalPathAndQuery}. */
  pathAndQuery: string;
  /** The serialized JSON body exactly as sent; omit (or `''`) for none. */
  body?: string;
  /** Milliseconds since the epoch; e签宝 rejects it after 15 minutes, so sign on every attempt. */
  timestamp: number;
}

/**
 * All authentication headers for one e签宝 request (docs/providers/esign.md "Request signing"). With a body, Content-MD5 and
 * Content-Type are signed and sent; without one both are empty in the string to sign and neither header is sent.
 */
export function esignRequestHeaders(p: EsignRequestHeadersParams): Record<string, string> {
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp < 0) {
    throw new RangeError(`timestamp must be a non-negative integer of milliseconds, got ${p.timestamp}`);
  }
  const body = p.body ?? '';
  const md5 = contentMd5(body);
  const contentType = body === '' ? '' : ESIGN_JSON_CONTENT_TYPE;
  const signature = esignSignature(
    p.appSecret,
    esignStringToSign({ method: p.method, contentMd5: md5, contentType, pathAndQuery: p.pathAndQuery }),
  );
  const headers: Record<string, string> = {
    'X-Tsign-Open-App-Id': p.appId,
    'X-Tsign-Open-Auth-Mode': 'Signature',
    'X-Tsign-Open-Ca-Timestamp': String(p.timestamp),
    'X-Tsign-Open-Ca-Signature': signature,
    Accept: ESIGN_ACCEPT,
  };
  if (body !== '') {
    headers['Content-Type'] = contentType;
    headers['Content-MD5'] = md5;
  }
  return headers;
}

export interface EsignCallbackInput {
  /** The body bytes exactly as received, before any JSON parsing. */
  rawBody: Buffer | string;
  appSecret: string;
  /** `X-Tsign-Open-TIMESTAMP` (ms). */
  timestampHeader?: string;
  /** `X-Tsign-Open-SIGNATURE` (lower-hex). */
  signatureHeader?: string;
  /** The query parameters of our own notifyUrl as received on this callback; they are signed too. */
  callbackQuery: Record<string, string | string[] | undefined>;
  /** Milliseconds since the epoch. */
  now: number;
  /** Maximum |now − timestamp|; defaults to 15 minutes. Pass `Infinity` to skip the check. */
  toleranceMs?: number;
  /** Maximum age (now − timestamp) when it should differ from `toleranceMs`, which then bounds the future only. */
  maxAgeMs?: number;
}

export type EsignCallbackVerdict = { ok: true } | { ok: false; reason: string };

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const DIGITS = /^\d{1,16}$/;

/**
 * Authenticates an e签宝 callback (docs/providers/esign.md "Callbacks"): `X-Tsign-Open-SIGNATURE` must equal lower-hex
 * HMAC-SHA256(AppSecret, timestamp + values of the notifyUrl's query parameters sorted by key + raw body), compared
 * in constant time, and the timestamp must be within the tolerance. The reason names the check that failed, for the
 * log; it is not meant for the caller.
 */
export function verifyEsignCallback(p: EsignCallbackInput): EsignCallbackVerdict {
  if (p.timestampHeader === undefined || p.timestampHeader === '') {
    return { ok: false, reason: 'missing X-Tsign-Open-TIMESTAMP header' };
  }
  if (p.signatureHeader === undefined || p.signatureHeader === '') {
    return { ok: false, reason: 'missing X-Tsign-Open-SIGNATURE header' };
  }
  if (!DIGITS.test(p.timestampHeader)) {
    return { ok: false, reason: 'malformed X-Tsign-Open-TIMESTAMP header: expected milliseconds' };
  }
  if (!HEX_SHA256.test(p.signatureHeader)) {
    return { ok: false, reason: 'malformed X-Tsign-Open-SIGNATURE header: expected 64 hex digits' };
  }

  const queryValues = Object.entries(p.callbackQuery)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([, value]) => (value === undefined ? [] : Array.isArray(value) ? value : [value]))
    .join('');
  const expected = createHmac('sha256', p.appSecret)
    .update(p.timestampHeader + queryValues, 'utf8')
    .update(p.rawBody)
    .digest();
  const received = Buffer.from(p.signatureHeader, 'hex');
  if (!timingSafeEqual(received, expected)) {
    return { ok: false, reason: 'signature mismatch' };
  }

  // Checked after the signature, so only a genuine but stale (or replayed) callback reports this reason.
  const tolerance = p.toleranceMs ?? ESIGN_DEFAULT_TOLERANCE_MS;
  const age = p.now - Number(p.timestampHeader);
  if (age > (p.maxAgeMs ?? tolerance) || -age > tolerance) {
    return { ok: false, reason: 'timestamp outside tolerance' };
  }
  return { ok: true };
}
