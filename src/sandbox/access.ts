import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';

/**
 * Who may use the sandbox's admin API and console. The admin API moves flows (which sends callbacks the API
 * stores as real), injects faults and shows every request, so it is not for anyone who can reach the port:
 *
 * - with `SANDBOX_ADMIN_TOKEN` set, every caller (from any address) must send `Authorization: Bearer <token>`;
 * - without it, only loopback clients are answered, and a request that came through a proxy (it carries
 *   `Forwarded` or `X-Forwarded-For`) does not count as loopback, since the proxy's own address says nothing about
 *   who is behind it.
 */

export interface SandboxAccessOptions {
  /** SANDBOX_ADMIN_TOKEN; unset: loopback clients only. */
  token?: string;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** A direct loopback client: the socket is loopback and no proxy says it forwarded someone else. */
export function isLocalRequest(req: Pick<Request, 'headers' | 'socket'>): boolean {
  if (req.headers.forwarded !== undefined || req.headers['x-forwarded-for'] !== undefined) return false;
  return isLoopbackAddress(req.socket.remoteAddress);
}

/** Constant time whatever the lengths: both sides are hashed first. */
export function tokenMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export type AccessVerdict = { ok: true } | { ok: false; status: 401 | 403; error: string };

export function checkAdminAccess(req: Pick<Request, 'headers' | 'socket'>, options: SandboxAccessOptions): AccessVerdict {
  if (options.token) {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return { ok: false, status: 401, error: 'sandbox admin API: send Authorization: Bearer <SANDBOX_ADMIN_TOKEN>' };
    if (!tokenMatches(options.token, match[1])) return { ok: false, status: 401, error: 'sandbox admin API: wrong token' };
    return { ok: true };
  }
  if (isLocalRequest(req)) return { ok: true };
  return {
    ok: false,
    status: 403,
    error: 'sandbox admin API: answers loopback clients only; set SANDBOX_ADMIN_TOKEN to allow others with a bearer token',
  };
}

/** Guards the admin API (`/_admin/…`): JSON 401/403 for whoever may not use it. */
export function adminAccess(options: SandboxAccessOptions): RequestHandler {
  return (req, res, next) => {
    const verdict = checkAdminAccess(req, options);
    if (verdict.ok) {
      next();
      return;
    }
    if (verdict.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="sandbox"');
    res.status(verdict.status).json({ error: verdict.error });
  };
}

/**
 * Guards the console page and its script: they hold no data (everything comes from the admin API), so with a token
 * configured anyone may load them and type the token in; without one, loopback clients only, like the admin API.
 */
export function consoleAccess(options: SandboxAccessOptions): RequestHandler {
  return (req, res, next) => {
    if (options.token || isLocalRequest(req)) {
      next();
      return;
    }
    res.status(403).json({ error: 'sandbox console: answers loopback clients only; set SANDBOX_ADMIN_TOKEN to allow others with a bearer token' });
  };
}
