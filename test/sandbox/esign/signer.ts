import { createHash, createHmac } from 'crypto';
import fetch from 'node-fetch';

/**
 * Test-only e签宝 request signer and callback checker, written from docs/providers/esign.md separately from both the client
 * (src/providers/esign) and the emulator (src/sandbox/esign), so a mistake shared by either cannot hide.
 */

export const APP_ID = '7438000001';
export const APP_SECRET = 'testAppSecret0123456789';

export interface SignOptions {
  appId?: string;
  secret?: string;
  timestamp: number;
  /** Overrides the computed Content-MD5 header (the signature still covers the value sent). */
  contentMd5?: string;
}

/** Headers of a request signed in `Signature` mode over `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` + path. */
export function signedHeaders(method: string, pathAndQuery: string, body: string | undefined, options: SignOptions): Record<string, string> {
  const md5 = options.contentMd5 ?? (body ? createHash('md5').update(body, 'utf8').digest('base64') : '');
  const contentType = body ? 'application/json; charset=UTF-8' : '';
  const stringToSign = `${method}\n*/*\n${md5}\n${contentType}\n\n${pathAndQuery}`;
  const signature = createHmac('sha256', options.secret ?? APP_SECRET).update(stringToSign, 'utf8').digest('base64');
  return {
    'X-Tsign-Open-App-Id': options.appId ?? APP_ID,
    'X-Tsign-Open-Auth-Mode': 'Signature',
    'X-Tsign-Open-Ca-Timestamp': String(options.timestamp),
    'X-Tsign-Open-Ca-Signature': signature,
    Accept: '*/*',
    ...(body ? { 'Content-Type': contentType, 'Content-MD5': md5 } : {}),
  };
}

export interface EsignAnswer {
  status: number;
  body: { code: number; message: string; data: any };
}

/** Sends one signed request to the emulator mounted at `base` (…/sandbox/esign). */
export async function esignCall(
  base: string,
  method: 'GET' | 'POST',
  pathAndQuery: string,
  body: unknown,
  options: SignOptions & { headers?: (signed: Record<string, string>) => Record<string, string>; sendBody?: string },
): Promise<EsignAnswer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const signed = signedHeaders(method, pathAndQuery, text, options);
  const response = await fetch(`${base}${pathAndQuery}`, { method, headers: options.headers ? options.headers(signed) : signed, body: options.sendBody ?? text });
  return { status: response.status, body: (await response.json()) as EsignAnswer['body'] };
}

/** lower-hex HMAC-SHA256(secret, timestamp + the notify URL's query values sorted by key + raw body). */
export function callbackSignature(secret: string, timestamp: string, notifyUrl: string, rawBody: string): string {
  const query = [...new URL(notifyUrl).searchParams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, v]) => v)
    .join('');
  return createHmac('sha256', secret).update(`${timestamp}${query}${rawBody}`, 'utf8').digest('hex');
}
