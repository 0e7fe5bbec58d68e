import { GraphQLError } from 'graphql';
import type { PartyClaimNames } from './config';

/** The scopes of the access table (README "Security"). */
export const SCOPES = {
  FLOWS_READ: 'flows:read',
  FLOWS_WRITE: 'flows:write',
  RESCISSIONS_WRITE: 'rescissions:write',
  AUTODEBITS_READ: 'autodebits:read',
  AUTODEBITS_WRITE: 'autodebits:write',
  EVENTS_READ: 'events:read',
  ADMIN: 'admin',
} as const;

/** Which party at each provider the caller's token names; absent claims are undefined. */
export interface Parties {
  etcMemberNo?: string;
  tencentOrgOpenId?: string;
  tencentOperatorOpenId?: string;
  esignOrgId?: string;
  esignPsnId?: string;
  yuansferMerchantNo?: string;
  yuansferStoreNo?: string;
}

/**
 * Who is calling: built once per request (or WebSocket connection) at the edge of the process and carried in the
 * context; resolvers never read headers.
 */
export interface Caller {
  /** False when authentication is off: the caller may do everything, in every tenant. */
  readonly enforced: boolean;
  /** A verified token (or a verified gateway-forwarded identity) stands behind this caller. */
  readonly authenticated: boolean;
  /** The token's `sub`; null when anonymous or when authentication is off. */
  readonly sub: string | null;
  /** The tenant the token names; null when it names none. */
  readonly tenant: string | null;
  readonly scopes: ReadonlySet<string>;
  /** Holds the `admin` scope, or authentication is off: sees every tenant's records. */
  readonly admin: boolean;
  readonly parties: Parties;
  /** Seconds since the epoch when the token expires (WebSocket connections end then). */
  readonly expiresAt?: number;
  /** Stable identity for per-caller limits and idempotency keys: `sub:<sub>`, or `ip:<address>` when anonymous. */
  readonly key: string;
  /** How the identity arrived, for logs. */
  readonly via: 'none' | 'bearer' | 'gateway';
}

/** Authentication off: the sandbox quick start, or an explicit AUTH=off. */
export function trustedCaller(address = 'local'): Caller {
  return { enforced: false, authenticated: false, sub: null, tenant: null, scopes: new Set(Object.values(SCOPES)), admin: true, parties: {}, key: `ip:${address}`, via: 'none' };
}

export function anonymousCaller(address: string): Caller {
  return { enforced: true, authenticated: false, sub: null, tenant: null, scopes: new Set(), admin: false, parties: {}, key: `ip:${address}`, via: 'none' };
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  if (typeof value === 'string' && value.length > 0 && value.length <= 256) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** `scope` (space-separated string, RFC 8693/9068) or `scp` (array, Azure AD/Okta style); both are honoured. */
export function scopesOf(claims: Record<string, unknown>): Set<string> {
  const scopes = new Set<string>();
  if (typeof claims.scope === 'string') for (const s of claims.scope.split(/\s+/)) if (s) scopes.add(s);
  if (Array.isArray(claims.scp)) for (const s of claims.scp) if (typeof s === 'string' && s) scopes.add(s);
  if (typeof claims.scp === 'string') for (const s of claims.scp.split(/\s+/)) if (s) scopes.add(s);
  return scopes;
}

/** Verified claims → the caller. Throws UNAUTHENTICATED when there is no usable `sub`. */
export function callerFromClaims(
  claims: Record<string, unknown>,
  options: { tenantClaim: string; partyClaims: PartyClaimNames; via: 'bearer' | 'gateway' },
): Caller {
  const sub = stringClaim(claims, 'sub');
  if (!sub) throw unauthenticated('the token has no "sub" claim naming the caller');
  const scopes = scopesOf(claims);
  const names = options.partyClaims;
  const parties: Parties = {};
  for (const [field, claim] of Object.entries(names) as Array<[keyof Parties, string]>) {
    const value = stringClaim(claims, claim);
    if (value !== undefined) parties[field] = value;
  }
  return {
    enforced: true,
    authenticated: true,
    sub,
    tenant: stringClaim(claims, options.tenantClaim) ?? null,
    scopes,
    admin: scopes.has(SCOPES.ADMIN),
    parties,
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    key: `sub:${sub}`,
    via: options.via,
  };
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(`Unauthenticated: ${message}`, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) } },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(`Forbidden: ${message}`, { extensions: { code: 'FORBIDDEN' } });
}

/**
 * Whether the caller may see a record of `tenant`. Authentication off and `admin` see everything; everyone else sees
 * exactly the records of their own tenant (a caller whose token names no tenant: the records that have none).
 */
export function canSee(caller: Caller, tenant: string | null): boolean {
  return caller.admin || tenant === caller.tenant;
}

/** The tenant filter of a list or subscription: undefined = every tenant. */
export function tenantFilter(caller: Caller): { tenant: string | null } | undefined {
  return caller.admin ? undefined : { tenant: caller.tenant };
}
