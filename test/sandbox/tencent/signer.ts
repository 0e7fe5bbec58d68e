import { createDecipheriv, createHmac } from 'crypto';
import fetch from 'node-fetch';
import { tc3Sign } from '../../../src/providers/tencent/signing';

/**
 * Calls the Tencent emulator the way a client would, signing with the client-side TC3 signer (held to the doc vectors
 * in test/providers/tencent/signing.test.ts, and written apart from the emulator's verifier). Callback helpers
 * decrypt and check with plain node:crypto, independent of both sides.
 */

export const SANDBOX = {
  secretId: 'AKIDsandboxEssbasic0000000000000000',
  secretKey: 'sandboxSecretKeyEssbasic000000000',
  appId: 'yDRSRUUgygj6qnwfUuO4zjEwc193c2hH',
  callbackKey: '0123456789abcdef0123456789abcdef',
  callbackToken: 'sandbox-callback-token',
};

export const AGENT = { AppId: SANDBOX.appId, ProxyOrganizationOpenId: 'org_dianziqian', ProxyOperator: { OpenId: 'n9527' } };

export interface CallOptions {
  secretId?: string;
  secretKey?: string;
  /** Unix seconds. */
  timestamp: number;
  version?: string;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: string;
  /** Changes the bytes on the wire after signing (a tampered request). */
  tamper?: (signed: string) => string;
}

export interface EssAnswer {
  status: number;
  response: Record<string, any>;
}

/** POSTs one signed action to `endpoint` (…/sandbox/tencent/) and returns `Response`. */
export async function callEss(endpoint: string, action: string, body: unknown, options: CallOptions): Promise<EssAnswer> {
  const text = options.raw ?? JSON.stringify(body);
  const contentType = 'application/json; charset=utf-8';
  const { authorization } = tc3Sign({
    secretId: options.secretId ?? SANDBOX.secretId,
    secretKey: options.secretKey ?? SANDBOX.secretKey,
    service: 'essbasic',
    host: new URL(endpoint).host,
    action,
    timestamp: options.timestamp,
    contentType,
    body: text,
  });
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      authorization,
      'x-tc-action': action,
      'x-tc-version': options.version ?? '2021-05-26',
      'x-tc-timestamp': String(options.timestamp),
    },
    body: options.tamper ? options.tamper(text) : text,
  });
  const parsed = (await res.json()) as { Response: Record<string, any> };
  return { status: res.status, response: parsed.Response };
}

export function decrypt(encrypt: string, key = SANDBOX.callbackKey): Record<string, any> {
  const k = Buffer.from(key, 'utf8');
  const decipher = createDecipheriv('aes-256-cbc', k, k.subarray(0, 16));
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]).toString('utf8'));
}

export function contentSignature(body: string, token = SANDBOX.callbackToken): string {
  return `sha256=${createHmac('sha256', token).update(body, 'utf8').digest('hex')}`;
}
