import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';

/** The HS256 secret the auth suites configure as AUTH_JWT_SECRET (at least 32 bytes). */
export const TEST_JWT_SECRET = 'test-secret-for-hs256-tokens-0123456789abcdef';
export const TEST_ISSUER = 'https://idp.test.example';
export const TEST_AUDIENCE = 'esign-lifecycle';

/** Every scope of the access table. */
export const ALL_SCOPES = ['flows:read', 'flows:write', 'rescissions:write', 'autodebits:read', 'autodebits:write', 'events:read'];

export interface TokenOptions {
  sub?: string;
  scope?: string[] | string;
  tenant?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  notBeforeIn?: number;
  issuer?: string | null;
  audience?: string | null;
  claims?: JWTPayload;
}

function claimsOf(options: TokenOptions): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const scope = options.scope ?? ALL_SCOPES;
  const claims: JWTPayload = {
    scope: Array.isArray(scope) ? scope.join(' ') : scope,
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    ...options.claims,
  };
  if (options.sub !== null) claims.sub = options.sub ?? 'user-1';
  claims.iat = now;
  claims.exp = now + (options.expiresIn ?? 600);
  if (options.notBeforeIn !== undefined) claims.nbf = now + options.notBeforeIn;
  if (options.issuer !== null) claims.iss = options.issuer ?? TEST_ISSUER;
  if (options.audience !== null) claims.aud = options.audience ?? TEST_AUDIENCE;
  return claims;
}

/** An HS256 token under TEST_JWT_SECRET (or `secret`), as an identity provider with a shared secret issues them. */
export async function hs256(options: TokenOptions = {}, secret = TEST_JWT_SECRET): Promise<string> {
  return new SignJWT(claimsOf(options)).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/**
 * A real JWKS endpoint on a free port with RS256 keys; `rotate()` adds a key (new `kid`) the way an identity provider
 * rotates, and `fetches` counts how often the API asked for the set.
 */
export interface JwksServer {
  url: string;
  fetches: number;
  sign(options?: TokenOptions, kid?: string): Promise<string>;
  /** Adds a fresh key and returns its kid; tokens signed with it verify only after the API re-fetches the set. */
  rotate(): Promise<string>;
  currentKid: string;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const keys = new Map<string, { privateKey: CryptoKey; jwk: JWK }>();
  const add = async (): Promise<string> => {
    const kid = `k${keys.size + 1}-${Math.random().toString(36).slice(2, 8)}`;
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    keys.set(kid, { privateKey, jwk });
    return kid;
  };
  const state = { fetches: 0, currentKid: await add() };
  const server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [...keys.values()].map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return {
    url,
    get fetches() {
      return state.fetches;
    },
    get currentKid() {
      return state.currentKid;
    },
    async sign(options = {}, kid = state.currentKid) {
      const key = keys.get(kid);
      if (!key) throw new Error(`no key ${kid}`);
      return new SignJWT(claimsOf(options)).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key.privateKey);
    },
    async rotate() {
      state.currentKid = await add();
      return state.currentKid;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  } as JwksServer;
}
