import { createHash, timingSafeEqual } from 'crypto';

/**
 * Yuansfer's `verifySign`, as its server computes it to check a request and to sign an IPN. docs/providers/yuansfer.md.
 */

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/**
 * How a parameter value reads in the string to sign. Form and JSON bodies carry strings; numbers and booleans are
 * written as they would be on the wire, and a structured value (which Yuansfer's API only takes pre-serialised,
 * e.g. `goodsInfo`) as its JSON. `undefined` means "empty: leave it out".
 */
function wireValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text === '' ? undefined : text;
}

/**
 * Computes `verifySign` over a request or IPN (docs/providers/yuansfer.md): drop `verifySign` and empty values, sort the rest
 * by name (ASCII), join `k=v` with `&`, append `&` + lower-hex MD5(token), and take the lower-hex MD5 of that (UTF-8).
 * Values are used exactly as received — not URL-encoded, not trimmed.
 */
export function computeVerifySign(params: Record<string, unknown>, token: string): string {
  const pairs: string[] = [];
  for (const key of Object.keys(params).sort()) {
    if (key === 'verifySign') continue;
    const value = wireValue(params[key]);
    if (value !== undefined) pairs.push(`${key}=${value}`);
  }
  return md5Hex(`${pairs.join('&')}&${md5Hex(token)}`);
}

export type RequestSignCheck = { ok: true } | { ok: false; ret_code: string; ret_msg: string };

/**
 * Checks the `verifySign` a merchant sent, answering as Yuansfer does. A mismatch follows seed 004's error example
 * verbatim (`ret_code` "000000", "data error : verifySign"); a missing one is the documented "parameter null" code
 * `000020`, with a message in the same shape (the message text is inferred). Constant-time comparison.
 */
export function checkRequestSign(params: Record<string, unknown>, token: string): RequestSignCheck {
  const received = params['verifySign'];
  if (received === undefined || received === null || received === '') {
    return { ok: false, ret_code: '000020', ret_msg: 'parameter null : verifySign' };
  }
  const expected = Buffer.from(computeVerifySign(params, token), 'utf8');
  const actual = Buffer.from(typeof received === 'string' ? received : String(received), 'utf8');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return { ok: false, ret_code: '000000', ret_msg: 'data error : verifySign' };
  }
  return { ok: true };
}
