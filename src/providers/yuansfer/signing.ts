import { createHash, timingSafeEqual } from 'crypto';

/** A parameter value as it appears in a request or an IPN; empty values take no part in the signature. */
export type YuansferParamValue = string | number | boolean | null | undefined;

const md5Hex = (data: string): string => createHash('md5').update(data, 'utf8').digest('hex');

const isEmpty = (value: YuansferParamValue): value is null | undefined | '' =>
  value === undefined || value === null || value === '';

/**
 * Computes Yuansfer's `verifySign` (docs/providers/yuansfer.md "verifySign"): drop `verifySign` and empty values, sort by
 * name, join `k=v` with `&`, append `&` + MD5(token), then lower-hex MD5 of the UTF-8 string. Values are not
 * URL-encoded: the signature covers them exactly as they are sent (or as a form-decoded IPN delivers them).
 */
export function verifySign(params: Record<string, YuansferParamValue>, token: string): string {
  const joined = Object.entries(params)
    .filter(([name, value]) => name !== 'verifySign' && !isEmpty(value))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${String(value)}`)
    .join('&');
  return md5Hex(`${joined}&${md5Hex(token)}`);
}

const HEX_MD5 = /^[0-9a-fA-F]{32}$/;

/**
 * Checks the `verifySign` of an IPN or response against the other parameters (docs/providers/yuansfer.md "IPN"), in constant
 * time. Parameters of untrusted input are `unknown`: any value that is not a scalar (an object, an array from a
 * repeated form field) cannot have been signed, so the whole message is rejected.
 */
export function checkVerifySign(params: Record<string, unknown>, token: string): boolean {
  const received = params['verifySign'];
  if (typeof received !== 'string' || !HEX_MD5.test(received)) {
    return false;
  }
  const scalars: Record<string, YuansferParamValue> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'verifySign') {
      continue;
    }
    if (
      value === undefined ||
      value === null ||
      typeof value === 'string' ||
      typeof value === 'number' ||
      typeof value === 'boolean'
    ) {
      scalars[name] = value;
    } else {
      return false;
    }
  }
  const expected = Buffer.from(verifySign(scalars, token), 'hex');
  return timingSafeEqual(Buffer.from(received, 'hex'), expected);
}
