import { createHash } from 'crypto';

/**
 * Test-only Yuansfer signer, written separately from both the client's and the emulator's so a shared mistake
 * cannot hide: non-empty parameters except verifySign, sorted by name, `k=v` joined with `&`, then `&` + md5(token),
 * md5 of the whole, lower-case hex. Checked against the doc vectors below before any suite relies on it.
 */

/** The token of docs/providers/yuansfer.md's doc vectors, which the sandbox's default merchant uses. */
export const DOC_TOKEN = '5cbfb079f15b150122261c8537086d77a';
export const SANDBOX_MERCHANT_NO = '200043';
export const SANDBOX_STORE_NO = '300014';

const md5 = (text: string) => createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex');

export function sign(params: Record<string, string | undefined>, token = DOC_TOKEN): string {
  const names = Object.keys(params)
    .filter((name) => name !== 'verifySign' && params[name] !== undefined && params[name] !== '')
    .sort();
  return md5(`${names.map((name) => `${name}=${params[name]}`).join('&')}&${md5(token)}`);
}

/** The params with their verifySign added. */
export function signed(params: Record<string, string>, token = DOC_TOKEN): Record<string, string> {
  return { ...params, verifySign: sign(params, token) };
}

/** A form-encoded body, as Yuansfer posts IPNs. */
export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** Decodes a form body into an object (a test helper; repeated names keep the last value). */
export function decodeForm(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

/** `YYYYMMDDHHMMSS` in UTC+8, Yuansfer's IPN time. */
export function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}
