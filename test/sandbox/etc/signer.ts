import { createPrivateKey, createSign, randomBytes } from 'crypto';

/**
 * Test-only ETC request signer, written separately from the emulator's verifier so a shared mistake cannot hide:
 * scalar fields of appId, nonce, timestamp, apiCode and params, sorted, `k=v&…`, SHA1withRSA, Base64.
 */

export const SAMPLE_APP_ID = 'OIG0AF4DMOK2VC2N';

/** The published sample private key (PKCS#8, DER, Base64) of docs/providers/etc.md; a test key, never a real one. */
export const SAMPLE_PRIVATE_KEY =
  'MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAJYmnqO24pylH6D4+JBszn52ZV+hssW+77CaoNsnrPCUtD8ZXBPQ6tiPMhkFyJNrSMRUsQthOKlSD3Q+rPpjsAGAa+4OhFUs8R2oK9vej3SF+7zZ04cKJG+fLjGxa4R2bmzVbubZL+BAk9Y2qa1IKV7NNS7jT38O6sEzFRBik1ybAgMBAAECgYB3PxSeUJCId1s3LIO7r64PIVhBKtof0hPp3eQCKPBf4LmFo05NLo5UjuTqmn1BFuMjiV9R+lRVpKZBW8Vk1ebhEnej7+SEAyrTU2jFE/7+V+JYChWJY3ipyvnWnLvGNIB9Er0wHGK8R9o7lDi0+592x1tuOrxud1nJ56ID4DgfAQJBAM/77Z0nkbvEgdJ0hgSXAvwZ1EjSGtkGFVELlsuYM6kt3xQ+FCk2fmuiE7t8UObAVHx4HusnApIJUWrs8hxFAxMCQQC40LA2xUDYvqM9sYx7l98M6K0/LEuRMm8QLt+5lhNCeibh4MZI8kHADsgnqLY7EC4WunAbNFL/AREGMI+WM+lZAkEAwskM9rwSTqpxc2rSAQZ1Myn1mOW9YzfBSw/xgGfhKjbd0BV7yEVTDPbUSCjbk+DYv2G4gz8bty2m5N9YuIUhpQJAcNFDoEuNKEJHV/O4NAIjcLfgef3KK1pEHfbfL2UDYMM8VQpnQERSCrF7UWpVw3w/BjTNFm48c9ns0IB4RlJuEQJBAJ7wpryXOU9wj02vTciXHo955AnrbAVMyu/9flZTVRAZ1XQF5Unt2iSUl0kcwT7njANCX94bZTJilXqJnZK6MS0=';

export function signString(text: string, privateKeyBase64 = SAMPLE_PRIVATE_KEY): string {
  const key = createPrivateKey({ key: Buffer.from(privateKeyBase64, 'base64'), format: 'der', type: 'pkcs8' });
  return createSign('RSA-SHA1').update(text, 'utf8').sign(key, 'base64');
}

export function stringToSign(fields: Record<string, unknown>): string {
  return Object.keys(fields)
    .filter((key) => ['string', 'number', 'boolean'].includes(typeof fields[key]))
    .sort()
    .map((key) => `${key}=${String(fields[key])}`)
    .join('&');
}

export function randomNonce(): string {
  return randomBytes(6).toString('base64').replace(/[^A-Za-z0-9]/g, 'Z').slice(0, 6).toUpperCase();
}

export interface GatewayBody {
  appId: string;
  nonce: string;
  timestamp: number;
  apiCode: string;
  params: Record<string, unknown>;
  sign: string;
}

export function signedRequest(
  apiCode: string,
  params: Record<string, unknown>,
  options: { appId?: string; nonce?: string; timestamp?: number; privateKey?: string } = {},
): GatewayBody {
  const appId = options.appId ?? SAMPLE_APP_ID;
  const nonce = options.nonce ?? randomNonce();
  const timestamp = options.timestamp ?? Date.now();
  const sign = signString(stringToSign({ ...params, appId, nonce, timestamp, apiCode }), options.privateKey);
  return { appId, nonce, timestamp, apiCode, params, sign };
}
