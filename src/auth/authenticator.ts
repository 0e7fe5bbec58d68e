import { GraphQLError } from 'graphql';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { silentLogger, type Logger } from '../logger';
import { anonymousCaller, callerFromClaims, trustedCaller, unauthenticated, type Caller } from './caller';
import type { AuthConfig } from './config';
import { verifyGatewaySignature } from './gateway-signature';

/** What the edge of each transport hands over: the Authorization value and, for gateway traffic, the operation. */
export interface Credentials {
  /** `Bearer …` from the HTTP header, or from the WebSocket `connection_init` / SSE payload. */
  authorization?: unknown;
  /** The GraphQL request's `extensions` (Hive Gateway puts the forwarded JWT and its signature there). */
  extensions?: unknown;
  query?: unknown;
  variables?: unknown;
  /** The client's address, the identity of anonymous callers for rate limits. */
  address: string;
}

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'];
const MAX_TOKEN_LENGTH = 8192;

/** The token's problem in words a client developer can act on; never the token itself. */
function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'the token is not valid yet (nbf)';
    if (error.claim === 'iss') return 'the token was issued by another issuer (iss)';
    if (error.claim === 'aud') return 'the token is meant for another audience (aud)';
    return `the token's "${error.claim}" claim is missing or invalid`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this API does not accept';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches the token (kid)';
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys of the issuer match the token';
  return 'the token is malformed';
}

function keysUnavailable(): GraphQLError {
  return new GraphQLError('The signing keys of the identity provider could not be fetched; retry shortly', {
    extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503 } },
  });
}

/**
 * Verifies who is calling, once per request or WebSocket connection (docs/security.md). Bearer JWTs: HS256 under
 * AUTH_JWT_SECRET, RS256/ES256/EdDSA against AUTH_JWKS_URL (jose caches the key set and fetches it again for an
 * unknown `kid`, at most once per cooldown), `exp` required and checked with `nbf` under a small clock tolerance,
 * `iss`/`aud` when configured. Behind Hive Gateway, the identity it forwards in `extensions.jwt` is trusted only on
 * requests whose `hmac-signature` verifies under AUTH_GATEWAY_HMAC_SECRET.
 */
export class Authenticator {
  private readonly getKey?: JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(
    private readonly config: AuthConfig,
    private readonly logger: Logger = silentLogger,
  ) {
    const jwks = config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: config.jwksCooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 }) : undefined;
    const secret = config.jwtSecret;
    this.algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])];
    if (secret || jwks) {
      this.getKey = async (header, token) => {
        if (header.alg === 'HS256' && secret) return secret;
        if (!jwks) throw new joseErrors.JOSEAlgNotAllowed('asymmetric tokens need AUTH_JWKS_URL');
        return jwks(header, token);
      };
    }
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Operations may carry a gateway-signed identity (AUTH_GATEWAY_HMAC_SECRET is set). */
  get trustsGateway(): boolean {
    return this.config.enabled && this.config.gatewayHmacSecret !== undefined;
  }

  /**
   * The caller of one request. No credentials: an anonymous caller (operations then answer UNAUTHENTICATED field by
   * field). Credentials that do not verify: throws UNAUTHENTICATED — a bad token is never downgraded to anonymous.
   */
  async authenticate(credentials: Credentials): Promise<Caller> {
    if (!this.config.enabled) return trustedCaller(credentials.address);
    return (await this.forwarded(credentials)) ?? this.bearer(credentials);
  }

  /** The caller named by an Authorization value alone (a WebSocket's `connection_init`). */
  async bearer(credentials: Pick<Credentials, 'authorization' | 'address'>): Promise<Caller> {
    if (!this.config.enabled) return trustedCaller(credentials.address);
    if (credentials.authorization === undefined || credentials.authorization === null || credentials.authorization === '') {
      return anonymousCaller(credentials.address);
    }
    if (typeof credentials.authorization !== 'string') throw unauthenticated('authorization must be a string "Bearer <token>"');
    const match = /^Bearer\s+([A-Za-z0-9\-_.=]+)\s*$/i.exec(credentials.authorization);
    if (!match) throw unauthenticated('authorization must be "Bearer <token>"');
    return this.verifyToken(match[1] as string, 'bearer');
  }

  private async verifyToken(token: string, via: 'bearer' | 'gateway'): Promise<Caller> {
    if (!this.getKey) throw unauthenticated('this API accepts identities only from its gateway');
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated('the token is too long');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockToleranceSec,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || (error instanceof Error && !(error instanceof joseErrors.JOSEError))) {
        this.logger.warn({ err: error }, 'fetching the JWKS failed');
        throw keysUnavailable();
      }
      throw unauthenticated(describe(error));
    }
    return callerFromClaims(payload as Record<string, unknown>, { tenantClaim: this.config.tenantClaim, partyClaims: this.config.partyClaims, via });
  }

  /**
   * The identity Hive Gateway forwarded, when this API trusts its gateway and the request's signature verifies;
   * undefined when the request forwards none. A forwarded identity that does not verify throws UNAUTHENTICATED.
   */
  async forwarded(credentials: Credentials): Promise<Caller | undefined> {
    if (!this.config.enabled) return undefined;
    const secret = this.config.gatewayHmacSecret;
    const extensions = credentials.extensions;
    if (!secret || !extensions || typeof extensions !== 'object') return undefined;
    const jwt = (extensions as Record<string, unknown>).jwt;
    if (jwt === undefined) return undefined;
    if (!verifyGatewaySignature(credentials, (extensions as Record<string, unknown>)['hmac-signature'], secret)) {
      throw unauthenticated('extensions.jwt is only accepted with a valid hmac-signature from the gateway');
    }
    if (!jwt || typeof jwt !== 'object') throw unauthenticated('extensions.jwt must be an object {payload, token}');
    const { payload, token } = jwt as { payload?: unknown; token?: unknown };
    // The signature binds the operation, not extensions.jwt: when the gateway forwards the token itself (Hive sends
    // `{value, prefix}`) and this API can verify it, it does, so a captured signed operation cannot be replayed under
    // another identity.
    const raw = typeof token === 'string' ? token : token && typeof token === 'object' ? (token as { value?: unknown }).value : undefined;
    if (typeof raw === 'string' && this.getKey) return this.verifyToken(raw.replace(/^Bearer\s+/i, ''), 'gateway');
    if (!payload || typeof payload !== 'object') throw unauthenticated('extensions.jwt.payload must hold the verified claims');
    const claims = payload as Record<string, unknown>;
    const now = Date.now() / 1000;
    const skew = this.config.clockToleranceSec;
    if (typeof claims.exp !== 'number') throw unauthenticated('the forwarded claims have no "exp"');
    if (claims.exp + skew <= now) throw unauthenticated('the token has expired');
    if (typeof claims.nbf === 'number' && claims.nbf - skew > now) throw unauthenticated('the token is not valid yet (nbf)');
    if (this.config.issuer && claims.iss !== this.config.issuer) throw unauthenticated('the token was issued by another issuer (iss)');
    if (this.config.audience) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.includes(this.config.audience)) throw unauthenticated('the token is meant for another audience (aud)');
    }
    return callerFromClaims(claims, { tenantClaim: this.config.tenantClaim, partyClaims: this.config.partyClaims, via: 'gateway' });
  }
}
