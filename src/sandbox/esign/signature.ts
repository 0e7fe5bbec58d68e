import { createHash, createHmac, timingSafeEqual } from 'crypto';

/**
 * The e签宝 side of the wire: checking a v3 open-API request signed in `Signature` auth mode, and signing the
 * callbacks e签宝 posts to a flow's notifyUrl. docs/providers/esign.md.
 *
 * Written from the receiver's point of view: the string to sign is rebuilt from the headers and path that arrived,
 * and the body's digest from its raw bytes.
 */

/** "X-Tsign-Open-Ca-Timestamp … valid 15 minutes" (docs/providers/esign.md), either side of the server clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;

export interface EsignRequest {
  method: string;
  /**
   * Path and query as received, relative to the emulated host (e.g. `/v3/sign-flow/x/detail?b=2&a=1`), i.e. with
   * the sandbox's mount prefix already removed; query values are compared in their raw, still-encoded form.
   */
  pathAndQuery: string;
  /** Header names lower-cased, as node's `IncomingMessage.headers` gives them. */
  headers: Record<string, string | undefined>;
  /** Raw body exactly as received. */
  body: Buffer | string;
  /** Current time, Unix milliseconds. */
  now: number;
  lookupSecret: (appId: string) => string | undefined;
}

export type EsignVerifyResult =
  | { ok: true; appId: string }
  | { ok: false; httpStatus: number; code: number; message: string };

/*
 * Error answers. e签宝 publishes its business error codes but not the gateway's authentication answers, so these are
 * INFERRED, shaped after its `{code, message, data}` envelope: a Chinese message followed by an upper-case reason.
 * Authentication failures answer HTTP 401 with code 401; a body whose digest does not match Content-MD5 is a
 * malformed request, HTTP 400 with code 400. Clients must decide on `code`, never on `message` (seed 003).
 *
 *   401 / 401  缺少请求头 <name>: MISSING_HEADER            X-Tsign-Open-App-Id, -Ca-Timestamp or -Ca-Signature absent
 *   401 / 401  不支持的鉴权模式 <mode>: INVALID_AUTH_MODE     X-Tsign-Open-Auth-Mode present and not `Signature`
 *   401 / 401  应用ID不存在或未启用: INVALID_APP_ID            unknown X-Tsign-Open-App-Id
 *   400 / 400  Content-MD5 与请求体不一致: INVALID_CONTENT_MD5 body present and Content-MD5 ≠ Base64(MD5(body))
 *   401 / 401  请求时间戳已过期: INVALID_TIMESTAMP              timestamp not a number, or more than 15 minutes off
 *   401 / 401  签名验证失败: INVALID_SIGNATURE                 signature does not match
 */
function refuse(httpStatus: number, code: number, message: string): EsignVerifyResult {
  return { ok: false, httpStatus, code, message };
}

function header(headers: Record<string, string | undefined>, name: string): string {
  return headers[name] ?? '';
}

function md5Base64(body: Buffer | string): string {
  return createHash('md5').update(body).digest('base64');
}

function stringEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Headers the client chose to sign (`X-Tsign-Open-Ca-Signature-Headers`), as sorted `key:value\n` lines. */
function signedHeaderLines(headers: Record<string, string | undefined>): string {
  const list = header(headers, 'x-tsign-open-ca-signature-headers');
  const names = list
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .sort();
  return names.map((name) => `${name}:${header(headers, name.toLowerCase())}\n`).join('');
}

/**
 * The path-and-query spellings a client may have signed: query parameters sorted by key (ASCII, stable for repeated
 * keys), values left as received. e签宝's demos differ on a parameter with an empty value (`k=` or bare `k`), so
 * when one is present both spellings are accepted.
 */
function pathAndQueryCandidates(pathAndQuery: string): string[] {
  const q = pathAndQuery.indexOf('?');
  if (q < 0) return [pathAndQuery];
  const path = pathAndQuery.slice(0, q);
  const params = pathAndQuery
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? { key: p, value: '' } : { key: p.slice(0, eq), value: p.slice(eq + 1) };
    })
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  if (params.length === 0) return [path];
  const render = (bareEmpty: boolean): string =>
    `${path}?${params.map(({ key, value }) => (bareEmpty && value === '' ? key : `${key}=${value}`)).join('&')}`;
  const withEquals = render(false);
  const bare = render(true);
  return withEquals === bare ? [withEquals] : [withEquals, bare];
}

/**
 * Verifies an e签宝 v3 request signed in `Signature` auth mode (docs/providers/esign.md, Request signing).
 *
 * Checks, in order: the auth headers are present, the app id is known, Content-MD5 matches the body when there is
 * one, X-Tsign-Open-Ca-Timestamp is within 15 minutes of `now`, and X-Tsign-Open-Ca-Signature equals
 * Base64(HMAC-SHA256(AppSecret, `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` + signed header lines +
 * path-and-query with sorted parameters)). Empty or absent Accept/Content-MD5/Content-Type/Date still contribute
 * their `\n`. The signature comparison is constant-time.
 */
export function verifyEsignRequest(req: EsignRequest): EsignVerifyResult {
  const { headers } = req;
  for (const name of ['X-Tsign-Open-App-Id', 'X-Tsign-Open-Ca-Timestamp', 'X-Tsign-Open-Ca-Signature']) {
    if (header(headers, name.toLowerCase()).trim() === '') {
      return refuse(401, 401, `缺少请求头 ${name}: MISSING_HEADER`);
    }
  }
  const authMode = headers['x-tsign-open-auth-mode'];
  if (authMode !== undefined && authMode.trim().toLowerCase() !== 'signature') {
    return refuse(401, 401, `不支持的鉴权模式 ${authMode}: INVALID_AUTH_MODE`);
  }

  const appId = header(headers, 'x-tsign-open-app-id').trim();
  const appSecret = req.lookupSecret(appId);
  if (appSecret === undefined) {
    return refuse(401, 401, `应用ID不存在或未启用: INVALID_APP_ID`);
  }

  const contentMd5 = header(headers, 'content-md5');
  const bodyLength = typeof req.body === 'string' ? Buffer.byteLength(req.body, 'utf8') : req.body.length;
  if ((bodyLength > 0 || contentMd5 !== '') && contentMd5 !== md5Base64(req.body)) {
    return refuse(400, 400, 'Content-MD5 与请求体不一致: INVALID_CONTENT_MD5');
  }

  const timestampText = header(headers, 'x-tsign-open-ca-timestamp').trim();
  const timestamp = /^\d{1,15}$/.test(timestampText) ? Number(timestampText) : Number.NaN;
  if (Number.isNaN(timestamp) || Math.abs(req.now - timestamp) > MAX_SKEW_MS) {
    return refuse(401, 401, '请求时间戳已过期: INVALID_TIMESTAMP');
  }

  const prefix =
    `${req.method.toUpperCase()}\n${header(headers, 'accept')}\n${contentMd5}\n` +
    `${header(headers, 'content-type')}\n${header(headers, 'date')}\n${signedHeaderLines(headers)}`;
  const received = header(headers, 'x-tsign-open-ca-signature').trim();
  let matched = false;
  for (const pathAndQuery of pathAndQueryCandidates(req.pathAndQuery)) {
    const expected = createHmac('sha256', appSecret).update(prefix + pathAndQuery, 'utf8').digest('base64');
    // Not short-circuited, so the time taken does not reveal which spelling matched.
    matched = stringEqual(expected, received) || matched;
  }
  if (!matched) {
    return refuse(401, 401, '签名验证失败: INVALID_SIGNATURE');
  }
  return { ok: true, appId };
}

/**
 * The `X-Tsign-Open-SIGNATURE` header of a callback (docs/providers/esign.md, Callbacks): lower-hex HMAC-SHA256 keyed with
 * the AppSecret over timestamp + the values of the notifyUrl's own query parameters, sorted by key and concatenated,
 * + the raw body. Query values are taken URL-decoded, as the receiver's framework hands them over (inferred: the
 * docs do not say, and notify URLs rarely carry encoded characters).
 */
export function signEsignCallback(p: {
  appSecret: string;
  /**
   * Unix milliseconds, as sent in X-Tsign-Open-TIMESTAMP. The emulator stamps each attempt afresh; the body's own
   * `timestamp` (the event's time) is what stays the same across retries.
   */
  timestamp: string;
  notifyUrl: string;
  rawBody: string;
}): string {
  // A base makes a path-only notifyUrl parseable; only its query matters here.
  const query = [...new URL(p.notifyUrl, 'http://notify.invalid').searchParams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, value]) => value)
    .join('');
  return createHmac('sha256', p.appSecret).update(p.timestamp + query + p.rawBody, 'utf8').digest('hex');
}
