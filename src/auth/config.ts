import { ConfigError } from '../config-error';

type Env = Record<string, string | undefined>;

/** Claim names that say which party at each provider a caller may act as (docs/security.md, "Acting party"). */
export interface PartyClaimNames {
  etcMemberNo: string;
  tencentOrgOpenId: string;
  tencentOperatorOpenId: string;
  esignOrgId: string;
  esignPsnId: string;
  yuansferMerchantNo: string;
  yuansferStoreNo: string;
}

export interface AuthConfig {
  /** Off: every caller is trusted with every scope and tenant (sandbox quick start, or an explicit AUTH=off). */
  enabled: boolean;
  /** AUTH=off given explicitly outside sandbox mode: start-up warns every time. */
  explicitlyOff: boolean;
  /** HS256 key (AUTH_JWT_SECRET, at least 32 bytes). */
  jwtSecret?: Uint8Array;
  /** RS256 / ES256 / EdDSA keys (AUTH_JWKS_URL), cached and re-fetched on an unknown `kid`. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. */
  clockToleranceSec: number;
  /** The JWKS is fetched again for an unknown `kid` at most once per this many ms. */
  jwksCooldownMs: number;
  tenantClaim: string;
  /** Trust identities a Hive Gateway forwards in `extensions.jwt` when its `hmac-signature` verifies. */
  gatewayHmacSecret?: string;
  partyClaims: PartyClaimNames;
  /** Browser origins allowed to call the API (CORS) and to open its WebSocket; `*` only outside production. */
  corsOrigins: readonly string[];
}

const AUTH_VARIABLES = ['AUTH_JWT_SECRET', 'AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_TENANT_CLAIM', 'AUTH_GATEWAY_HMAC_SECRET'] as const;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function cooldown(env: Env): number {
  const raw = read(env, 'AUTH_JWKS_COOLDOWN_MS');
  if (raw === undefined) return 30_000;
  if (!/^\d+$/.test(raw) || Number(raw) < 100) throw new ConfigError('AUTH_JWKS_COOLDOWN_MS', 'must be a whole number of milliseconds, at least 100');
  return Number(raw);
}

const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

function claimName(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  if (!CLAIM_NAME.test(value)) throw new ConfigError(name, `must be a claim name (letters, digits, _ . : -), got ${JSON.stringify(value)}`);
  return value;
}

/** `https://app.example.com, http://localhost:5173` → exact origins; `*` only outside production. */
export function parseOrigins(env: Env, name: string, production: boolean): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  const origins: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (entry === '*') {
      if (production) throw new ConfigError(name, '"*" is not allowed with NODE_ENV=production; list the origins');
      origins.push('*');
      continue;
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(name, `${JSON.stringify(entry)} is not an origin like https://app.example.com`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== entry.replace(/\/$/, '')) {
      throw new ConfigError(name, `${JSON.stringify(entry)} is not an origin like https://app.example.com (scheme, host and port only)`);
    }
    origins.push(url.origin);
  }
  return origins;
}

/**
 * AUTH_* → the identity section. Default: on whenever an AUTH_* variable is set or the sandbox is off; off only in
 * sandbox mode with nothing set, so the quick start keeps working. With the sandbox off and nothing set, start-up
 * fails naming the variables unless AUTH=off is explicit: production never fails open by omission.
 */
export function loadAuthConfig(env: Env, options: { sandbox: boolean; production: boolean }): AuthConfig {
  const mode = read(env, 'AUTH')?.toLowerCase();
  if (mode !== undefined && mode !== 'on' && mode !== 'off') throw new ConfigError('AUTH', 'must be "on" or "off"');
  const anySet = AUTH_VARIABLES.some((v) => read(env, v) !== undefined);

  const secret = read(env, 'AUTH_JWT_SECRET');
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    throw new ConfigError('AUTH_JWT_SECRET', `must be at least 32 bytes (HS256 keys shorter than the hash are weak), got ${Buffer.byteLength(secret, 'utf8')}`);
  }
  const jwksRaw = read(env, 'AUTH_JWKS_URL');
  let jwksUrl: string | undefined;
  if (jwksRaw !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(jwksRaw);
    } catch {
      throw new ConfigError('AUTH_JWKS_URL', 'is not a valid URL');
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
      throw new ConfigError('AUTH_JWKS_URL', 'must be https:// (http:// only on loopback)');
    }
    jwksUrl = parsed.toString();
  }
  const hmac = read(env, 'AUTH_GATEWAY_HMAC_SECRET');
  if (hmac !== undefined && Buffer.byteLength(hmac, 'utf8') < 32) {
    throw new ConfigError('AUTH_GATEWAY_HMAC_SECRET', `must be at least 32 bytes, got ${Buffer.byteLength(hmac, 'utf8')}`);
  }

  const enabled = mode === 'on' || (mode === undefined && (anySet || !options.sandbox));
  if (enabled && secret === undefined && jwksUrl === undefined && hmac === undefined) {
    throw new ConfigError(
      'AUTH_JWT_SECRET',
      options.sandbox
        ? 'authentication is on but no way to verify callers is set: set AUTH_JWT_SECRET, AUTH_JWKS_URL or AUTH_GATEWAY_HMAC_SECRET'
        : 'with SANDBOX=off every caller must be authenticated: set AUTH_JWT_SECRET or AUTH_JWKS_URL (or AUTH_GATEWAY_HMAC_SECRET behind Hive Gateway), or AUTH=off to run without authentication',
    );
  }
  if (!enabled && hmac !== undefined) throw new ConfigError('AUTH', 'is off, so AUTH_GATEWAY_HMAC_SECRET would be ignored; remove one of them');

  return {
    enabled,
    explicitlyOff: mode === 'off' && !options.sandbox,
    jwtSecret: secret === undefined ? undefined : new TextEncoder().encode(secret),
    jwksUrl,
    issuer: read(env, 'AUTH_ISSUER'),
    audience: read(env, 'AUTH_AUDIENCE'),
    clockToleranceSec: 30,
    jwksCooldownMs: cooldown(env),
    tenantClaim: claimName(env, 'AUTH_TENANT_CLAIM', 'tenant'),
    gatewayHmacSecret: hmac,
    partyClaims: {
      etcMemberNo: claimName(env, 'AUTH_CLAIM_ETC_MEMBER_NO', 'etc_member_no'),
      tencentOrgOpenId: claimName(env, 'AUTH_CLAIM_TENCENT_ORG_OPEN_ID', 'tencent_org_open_id'),
      tencentOperatorOpenId: claimName(env, 'AUTH_CLAIM_TENCENT_OPERATOR_OPEN_ID', 'tencent_operator_open_id'),
      esignOrgId: claimName(env, 'AUTH_CLAIM_ESIGN_ORG_ID', 'esign_org_id'),
      esignPsnId: claimName(env, 'AUTH_CLAIM_ESIGN_PSN_ID', 'esign_psn_id'),
      yuansferMerchantNo: claimName(env, 'AUTH_CLAIM_YUANSFER_MERCHANT_NO', 'yuansfer_merchant_no'),
      yuansferStoreNo: claimName(env, 'AUTH_CLAIM_YUANSFER_STORE_NO', 'yuansfer_store_no'),
    },
    corsOrigins: parseOrigins(env, 'CORS_ORIGINS', options.production),
  };
}
