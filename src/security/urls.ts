import { isIP } from 'node:net';
import type { UserError } from '../domain/model';

/** `userErrors` code of a caller-given URL that points somewhere this server does not send people or providers. */
export const URL_NOT_ALLOWED = 'URL_NOT_ALLOWED';

/** Where a caller-given URL may point: exact origins, and (sandbox mode) anything on loopback. */
export interface OriginPolicy {
  /** `https://shop.example.com`, `http://localhost:5173`: scheme, host and port, compared exactly. */
  origins: readonly string[];
  /** Sandbox mode: any http(s) URL on 127.0.0.0/8, ::1 or localhost. */
  loopback: boolean;
}

/** The URL when it parses and is http(s); undefined otherwise. */
export function httpUrl(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** 127.0.0.0/8, ::1 and localhost (WHATWG URL parsing has already normalised odd spellings like 0x7f.1). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:(7f[0-9a-f]{2}:|127\.)/.test(host);
  return false;
}

/**
 * Checks a URL a caller gives the API to hand on (a redirect for a payer, a callback address for a provider). A
 * URL that is not http(s) is left to the field's own validation (INVALID_INPUT); this answers only "allowed here?".
 * The message names the field and what is allowed, never the whole list of origins.
 */
export function checkCallerUrl(value: string, policy: OriginPolicy, field: string[], variable: string): UserError | undefined {
  const url = httpUrl(value);
  if (!url) return undefined;
  const name = field[field.length - 1];
  const refuse = (why: string): UserError => ({ code: URL_NOT_ALLOWED, field, message: `${name} ${why}` });
  if (url.username !== '' || url.password !== '') return refuse('must not carry a user name or password');
  if (policy.origins.includes(url.origin)) return undefined;
  if (policy.loopback && isLoopbackHost(url.hostname)) return undefined;
  return refuse(
    policy.loopback
      ? `must point at one of the origins in ${variable} or at loopback (sandbox mode); ${url.origin} is not allowed`
      : `must point at one of the origins in ${variable}; ${url.origin} is not allowed`,
  );
}

/**
 * A URL taken from a provider's callback (a signed file's address, shown to clients as a link): kept only when it
 * is http(s), so a forged or broken value can never become a `javascript:` or `data:` link.
 */
export function providerLink(value: string | null | undefined): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return httpUrl(value) ? value : undefined;
}
