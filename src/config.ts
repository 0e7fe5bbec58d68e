import { createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { loadAuthConfig, type AuthConfig } from './auth/config';
import { ConfigError } from './config-error';
import { loadSecurityConfig, type SecurityConfig } from './security/config';

/**
 * The sample key pair and app id published with the ETC gateway documentation (docs/providers/etc.md). They are public
 * test material, used only when the sandbox stands in for the real gateway.
 */
export const ETC_SANDBOX_APP_ID = 'OIG0AF4DMOK2VC2N';
export const ETC_SANDBOX_PRIVATE_KEY =
  'MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAJYmnqO24pylH6D4+JBszn52ZV+hssW+77CaoNsnrPCUtD8ZXBPQ6tiPMhkFyJNrSMRUsQthOKlSD3Q+rPpjsAGAa+4OhFUs8R2oK9vej3SF+7zZ04cKJG+fLjGxa4R2bmzVbubZL+BAk9Y2qa1IKV7NNS7jT38O6sEzFRBik1ybAgMBAAECgYB3PxSeUJCId1s3LIO7r64PIVhBKtof0hPp3eQCKPBf4LmFo05NLo5UjuTqmn1BFuMjiV9R+lRVpKZBW8Vk1ebhEnej7+SEAyrTU2jFE/7+V+JYChWJY3ipyvnWnLvGNIB9Er0wHGK8R9o7lDi0+592x1tuOrxud1nJ56ID4DgfAQJBAM/77Z0nkbvEgdJ0hgSXAvwZ1EjSGtkGFVELlsuYM6kt3xQ+FCk2fmuiE7t8UObAVHx4HusnApIJUWrs8hxFAxMCQQC40LA2xUDYvqM9sYx7l98M6K0/LEuRMm8QLt+5lhNCeibh4MZI8kHADsgnqLY7EC4WunAbNFL/AREGMI+WM+lZAkEAwskM9rwSTqpxc2rSAQZ1Myn1mOW9YzfBSw/xgGfhKjbd0BV7yEVTDPbUSCjbk+DYv2G4gz8bty2m5N9YuIUhpQJAcNFDoEuNKEJHV/O4NAIjcLfgef3KK1pEHfbfL2UDYMM8VQpnQERSCrF7UWpVw3w/BjTNFm48c9ns0IB4RlJuEQJBAJ7wpryXOU9wj02vTciXHo955AnrbAVMyu/9flZTVRAZ1XQF5Unt2iSUl0kcwT7njANCX94bZTJilXqJnZK6MS0=';

export { ConfigError };

/** Where a provider client sends its requests: a fixed URL, or (sandbox) one known only once the server listens. */
export type BaseUrl = string | (() => string);

export interface HttpClientSettings {
  /** Deadline of one provider call, retries included. */
  timeoutMs: number;
  /** Attempts after the first, for failures that are safe to repeat. */
  maxRetries: number;
  /** Consecutive failed calls that open the provider's circuit breaker. */
  breakerThreshold: number;
  /** How long an open breaker refuses calls before letting a trial through. */
  breakerResetMs: number;
}

export interface EtcConfig extends HttpClientSettings {
  gatewayUrl: BaseUrl;
  appId: string;
  privateKey: KeyObject;
  /** ETC_CALLBACK_SECRET: `/callbacks/etc` requires `?token=` equal to it. */
  callbackSecret?: string;
  /**
   * Emulated ETC only: the token the sandbox's callbacks carry instead of ETC_CALLBACK_SECRET (derived from it, so
   * the same on every replica, and not the secret itself), accepted by `/callbacks/etc` as well.
   */
  sandboxCallbackToken?: string;
}

/** e签宝 open API v3 (docs/providers/esign.md). The AppSecret signs requests and authenticates callbacks. */
export interface EsignConfig extends HttpClientSettings {
  baseUrl: BaseUrl;
  appId: string;
  /** Never logged. */
  appSecret: string;
}

/** Yuansfer auto-debit v3 (docs/providers/yuansfer.md). merchantNo and storeNo are the defaults of every call. */
export interface YuansferConfig extends HttpClientSettings {
  baseUrl: BaseUrl;
  /** The API token: signs requests (verifySign) and checks IPNs. Never logged. */
  token: string;
  merchantNo: string;
  storeNo: string;
}

/** Tencent Electronic Signature, platform edition (essbasic): credentials, the Agent and the callback secrets. */
export interface TencentConfig extends HttpClientSettings {
  /** `https://essbasic.tencentcloudapi.com` unless TENCENT_ESS_ENDPOINT says otherwise; every call is `POST /`. */
  endpoint: BaseUrl;
  secretId: string;
  secretKey: string;
  /** Agent.AppId */
  appId: string;
  /** Agent.ProxyOrganizationOpenId */
  proxyOrganizationOpenId: string;
  /** Agent.ProxyOperator.OpenId */
  proxyOperatorOpenId: string;
  /** X-TC-Region, sent only when set. */
  region?: string;
  /** 32 bytes: callbacks arrive AES-256-CBC encrypted as `{"encrypt":…}`. */
  callbackKey?: string;
  /** Callbacks carry `Content-Signature: sha256=<HMAC-SHA256(token, body)>`. */
  callbackToken?: string;
  /** Calls per second per action the client allows itself (Tencent's documented limit is 20). */
  ratePerSecond: number;
}

/**
 * Credentials the in-process sandbox's Tencent emulator knows. Invented here (Tencent publishes no test account);
 * the emulator carries its own copy, so the two sides stay independent.
 */
export const TENCENT_SANDBOX = {
  secretId: 'AKIDsandboxEssbasic0000000000000000',
  secretKey: 'sandboxSecretKeyEssbasic000000000',
  appId: 'yDRSRUUgygj6qnwfUuO4zjEwc193c2hH',
  proxyOrganizationOpenId: 'org_dianziqian',
  proxyOperatorOpenId: 'n9527',
  callbackKey: '0123456789abcdef0123456789abcdef',
  callbackToken: 'sandbox-callback-token',
} as const;

export interface Config {
  port: number;
  host: string;
  /** Base of the callback URLs handed to providers. Unset: http://127.0.0.1:<listening port>. */
  publicUrl?: string;
  databaseUrl?: string;
  dataDir: string;
  redisUrl?: string;
  sandbox: boolean;
  /**
   * SANDBOX_ADMIN_TOKEN: with it the sandbox's admin API and console answer any address that sends it as a bearer
   * token; without it, loopback clients only.
   */
  sandboxAdminToken?: string;
  logLevel: string;
  /** How long SIGTERM waits for in-flight work before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** How often each replica re-reads the event log when no wake-up arrived (a lost publish only delays). */
  eventPollIntervalMs: number;
  /** Callback receipts older than this are deleted (at start-up and hourly). */
  receiptRetentionDays: number;
  /** Operations one WebSocket may hold at once. */
  wsMaxSubscriptions: number;
  /** `GRAPHQL_JIT` (default on): compiled execution of HTTP operations (src/graphql/compiled-execution.ts). */
  graphqlJit: boolean;
  /** Events older than this many days are deleted; undefined keeps the log forever. */
  eventRetentionDays?: number;
  /** Reading open records again from their provider (src/reconcile): tick interval (0: off), staleness, read budget. */
  reconcile: { intervalMs: number; afterMs: number; readsPerSecond: number };
  /** Cost limits and rate limits of GraphQL operations (docs/security.md, "Cost limits and rate limits"). */
  limits: LimitsConfig;
  /** Who may call the API and as whom (docs/security.md). */
  auth: AuthConfig;
  /** Production mode, introspection, callback verification, caller-given URLs (docs/security.md "Hardening"). */
  security: SecurityConfig;
  /** Undefined: the provider is not configured; its operations answer PROVIDER_NOT_CONFIGURED. */
  etc?: EtcConfig;
  tencent?: TencentConfig;
  yuansfer?: YuansferConfig;
  esign?: EsignConfig;
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw.replace(/\/+$/, '');
}

/** Accepts a PKCS#8 key as PEM or as the bare Base64 of its DER bytes (the form the ETC console hands out). */
export function parsePrivateKey(name: string, raw: string): KeyObject {
  try {
    if (raw.includes('-----BEGIN')) return createPrivateKey({ key: raw.replace(/\\n/g, '\n'), format: 'pem' });
    return createPrivateKey({ key: Buffer.from(raw.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    // The key itself never goes into the message.
    throw new ConfigError(name, 'is not a PKCS#8 private key (PEM, or Base64 of the DER bytes)');
  }
}

const ETC_VARIABLES = ['ETC_GATEWAY_URL', 'ETC_APP_ID', 'ETC_PRIVATE_KEY'] as const;

/** The emulated ETC's callback token: HMAC-SHA256(ETC_CALLBACK_SECRET, fixed label), hex. Reveals nothing of the secret. */
export function sandboxEtcCallbackToken(secret: string): string {
  return createHmac('sha256', secret).update('sandbox ETC callback token').digest('hex');
}
const CREDENTIAL_VARIABLES = [
  ...ETC_VARIABLES,
  'TENCENT_SECRET_ID',
  'TENCENT_SECRET_KEY',
  'ESIGN_APP_ID',
  'ESIGN_APP_SECRET',
  'YUANSFER_TOKEN',
];

function settings(env: Env, prefix: string): HttpClientSettings {
  return {
    timeoutMs: int(env, `${prefix}_TIMEOUT_MS`, int(env, 'PROVIDER_TIMEOUT_MS', 10_000, 1), 1),
    maxRetries: int(env, `${prefix}_MAX_RETRIES`, int(env, 'PROVIDER_MAX_RETRIES', 2, 0, 10), 0, 10),
    breakerThreshold: int(env, `${prefix}_BREAKER_THRESHOLD`, int(env, 'PROVIDER_BREAKER_THRESHOLD', 5, 1), 1),
    breakerResetMs: int(env, `${prefix}_BREAKER_RESET_MS`, int(env, 'PROVIDER_BREAKER_RESET_MS', 10_000, 0), 0),
  };
}

/**
 * The merchant, store and API token of Yuansfer's published examples (docs/providers/yuansfer.md doc vectors): used only
 * when the sandbox stands in for Yuansfer, whose emulator knows the same merchant.
 */
export const YUANSFER_SANDBOX_MERCHANT_NO = '200043';
export const YUANSFER_SANDBOX_STORE_NO = '300014';
export const YUANSFER_SANDBOX_TOKEN = '5cbfb079f15b150122261c8537086d77a';
const YUANSFER_PRODUCTION_URL = 'https://mapi.yuansfer.com';
const YUANSFER_VARIABLES = ['YUANSFER_TOKEN', 'YUANSFER_MERCHANT_NO', 'YUANSFER_STORE_NO'] as const;

/** YUANSFER_TOKEN, _MERCHANT_NO and _STORE_NO go together; YUANSFER_BASE_URL defaults to production. */
function loadYuansfer(env: Env, sandbox: boolean, sandboxBase: () => string): YuansferConfig | undefined {
  const set = YUANSFER_VARIABLES.filter((v) => read(env, v) !== undefined);
  const baseUrl = url(env, 'YUANSFER_BASE_URL', ['http:', 'https:']);
  if ((set.length > 0 || baseUrl !== undefined) && set.length < YUANSFER_VARIABLES.length) {
    const given = baseUrl !== undefined ? ['YUANSFER_BASE_URL', ...set] : [...set];
    const missing = YUANSFER_VARIABLES.filter((v) => !set.includes(v));
    throw new ConfigError(missing[0], `is required when ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} set`);
  }
  for (const name of ['YUANSFER_MERCHANT_NO', 'YUANSFER_STORE_NO'] as const) {
    const value = read(env, name);
    if (value !== undefined && !/^[A-Za-z0-9]{1,32}$/.test(value)) throw new ConfigError(name, 'must be 1 to 32 letters or digits');
  }
  const token = read(env, 'YUANSFER_TOKEN');
  if (token !== undefined && /\s/.test(token)) throw new ConfigError('YUANSFER_TOKEN', 'must not contain whitespace');
  if (set.length === YUANSFER_VARIABLES.length) {
    return {
      baseUrl: baseUrl ?? YUANSFER_PRODUCTION_URL,
      token: token as string,
      merchantNo: read(env, 'YUANSFER_MERCHANT_NO') as string,
      storeNo: read(env, 'YUANSFER_STORE_NO') as string,
      ...settings(env, 'YUANSFER'),
    };
  }
  if (!sandbox) return undefined;
  return {
    baseUrl: () => `${sandboxBase()}/yuansfer`,
    token: YUANSFER_SANDBOX_TOKEN,
    merchantNo: YUANSFER_SANDBOX_MERCHANT_NO,
    storeNo: YUANSFER_SANDBOX_STORE_NO,
    ...settings(env, 'YUANSFER'),
  };
}

/**
 * The application of docs/providers/esign.md's self vectors: used only when the sandbox stands in for e签宝, whose emulator
 * registers the same application.
 */
export const ESIGN_SANDBOX_APP_ID = '7438000001';
export const ESIGN_SANDBOX_APP_SECRET = 'testAppSecret0123456789';
const ESIGN_PRODUCTION_URL = 'https://openapi.esign.cn';
const ESIGN_VARIABLES = ['ESIGN_APP_ID', 'ESIGN_APP_SECRET'] as const;

/** ESIGN_APP_ID and ESIGN_APP_SECRET go together; ESIGN_BASE_URL defaults to production. */
function loadEsign(env: Env, sandbox: boolean, sandboxBase: () => string): EsignConfig | undefined {
  const set = ESIGN_VARIABLES.filter((v) => read(env, v) !== undefined);
  const baseUrl = url(env, 'ESIGN_BASE_URL', ['http:', 'https:']);
  if ((set.length > 0 || baseUrl !== undefined) && set.length < ESIGN_VARIABLES.length) {
    const given = baseUrl !== undefined ? ['ESIGN_BASE_URL', ...set] : [...set];
    const missing = ESIGN_VARIABLES.filter((v) => !set.includes(v));
    throw new ConfigError(missing[0], `is required when ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} set`);
  }
  for (const name of ESIGN_VARIABLES) {
    const value = read(env, name);
    if (value !== undefined && /\s/.test(value)) throw new ConfigError(name, 'must not contain whitespace');
  }
  if (set.length === ESIGN_VARIABLES.length) {
    return {
      baseUrl: baseUrl ?? ESIGN_PRODUCTION_URL,
      appId: read(env, 'ESIGN_APP_ID') as string,
      appSecret: read(env, 'ESIGN_APP_SECRET') as string,
      ...settings(env, 'ESIGN'),
    };
  }
  if (!sandbox) return undefined;
  return { baseUrl: () => `${sandboxBase()}/esign`, appId: ESIGN_SANDBOX_APP_ID, appSecret: ESIGN_SANDBOX_APP_SECRET, ...settings(env, 'ESIGN') };
}

/** A switch: `on`/`off` (or true/false, 1/0); unset is the default. */
function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['on', 'true', '1'].includes(raw)) return true;
  if (['off', 'false', '0'].includes(raw)) return false;
  throw new ConfigError(name, 'must be "on" or "off"');
}

/**
 * Environment → one typed, validated configuration. A malformed value stops start-up with a message naming the
 * variable; a provider whose variables are all unset is simply not configured.
 *
 * @param sandboxBase where the in-process emulators answer, known once the server listens.
 */
export function loadConfig(env: Env = process.env, sandboxBase: () => string = () => ''): Config {
  const port = int(env, 'PORT', 4000, 0, 65535);
  const sandboxRaw = read(env, 'SANDBOX')?.toLowerCase();
  if (sandboxRaw !== undefined && !['on', 'off', 'true', 'false', '1', '0'].includes(sandboxRaw)) {
    throw new ConfigError('SANDBOX', 'must be "on" or "off"');
  }
  const anyCredential = CREDENTIAL_VARIABLES.some((v) => read(env, v) !== undefined);
  const production = read(env, 'NODE_ENV') === 'production';
  // In production the emulators never start by default: an API with public test keys and an admin API that sends
  // callbacks the store takes as real must be asked for.
  const sandbox = sandboxRaw === undefined ? !production && !anyCredential : ['on', 'true', '1'].includes(sandboxRaw);
  // Without SANDBOX said either way, production with nothing configured is a mistake, not a choice: say so. An
  // explicit SANDBOX=off still starts (every operation answers PROVIDER_NOT_CONFIGURED), as outside production.
  if (production && sandboxRaw === undefined && !anyCredential) {
    throw new ConfigError(
      'SANDBOX',
      'NODE_ENV=production with no provider configured: set a provider\'s credentials (ETC_GATEWAY_URL, ETC_APP_ID, ETC_PRIVATE_KEY; ' +
        'TENCENT_SECRET_ID, TENCENT_SECRET_KEY, …; ESIGN_APP_ID, ESIGN_APP_SECRET; YUANSFER_TOKEN, …) or SANDBOX=on to run the emulators (SANDBOX=off starts with every provider disabled)',
    );
  }
  const sandboxAdminToken = read(env, 'SANDBOX_ADMIN_TOKEN');
  if (sandboxAdminToken !== undefined && (sandboxAdminToken.length < 16 || /\s/.test(sandboxAdminToken))) {
    throw new ConfigError('SANDBOX_ADMIN_TOKEN', 'must be at least 16 characters with no whitespace');
  }
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:', 'file:']);

  const config: Omit<Config, 'auth' | 'security'> = {
    port,
    host: read(env, 'HOST') ?? '0.0.0.0',
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:']),
    databaseUrl,
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './data'),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    sandbox,
    sandboxAdminToken,
    logLevel: read(env, 'LOG_LEVEL') ?? 'info',
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0),
    eventPollIntervalMs: int(env, 'EVENT_POLL_INTERVAL_MS', 1_000, 10),
    // Receipts dedupe provider retries, the longest of which come up to 48 h late (e签宝): 3 days at least.
    receiptRetentionDays: int(env, 'RECEIPT_RETENTION_DAYS', 30, 3),
    wsMaxSubscriptions: int(env, 'WS_MAX_SUBSCRIPTIONS', 100, 1, 10_000),
    graphqlJit: onOff(env, 'GRAPHQL_JIT', true),
    eventRetentionDays: read(env, 'EVENT_RETENTION_DAYS') === undefined ? undefined : int(env, 'EVENT_RETENTION_DAYS', 0, 1),
    reconcile: {
      intervalMs: int(env, 'RECONCILE_INTERVAL_MS', 300_000, 0),
      afterMs: int(env, 'RECONCILE_AFTER_MS', 900_000, 0),
      readsPerSecond: int(env, 'RECONCILE_READS_PER_SECOND', 10, 1, 1000),
    },
    limits: loadLimits(env),
  };

  const etcSet = ETC_VARIABLES.filter((v) => read(env, v) !== undefined);
  if (etcSet.length > 0 && etcSet.length < ETC_VARIABLES.length) {
    const missing = ETC_VARIABLES.filter((v) => !etcSet.includes(v));
    throw new ConfigError(missing[0], `is required when ${etcSet.join(', ')} ${etcSet.length > 1 ? 'are' : 'is'} set`);
  }
  const appId = read(env, 'ETC_APP_ID');
  if (appId !== undefined && !/^[A-Za-z0-9]{16}$/.test(appId)) {
    throw new ConfigError('ETC_APP_ID', 'must be the 16-character application id');
  }
  const callbackSecret = read(env, 'ETC_CALLBACK_SECRET');
  if (etcSet.length === ETC_VARIABLES.length) {
    config.etc = {
      gatewayUrl: url(env, 'ETC_GATEWAY_URL', ['http:', 'https:']) as string,
      appId: appId as string,
      privateKey: parsePrivateKey('ETC_PRIVATE_KEY', read(env, 'ETC_PRIVATE_KEY') as string),
      callbackSecret,
      ...settings(env, 'ETC'),
    };
  } else if (sandbox) {
    config.etc = {
      gatewayUrl: () => `${sandboxBase()}/etc/api/gateway`,
      appId: ETC_SANDBOX_APP_ID,
      privateKey: parsePrivateKey('ETC_PRIVATE_KEY', ETC_SANDBOX_PRIVATE_KEY),
      callbackSecret,
      sandboxCallbackToken: callbackSecret === undefined ? undefined : sandboxEtcCallbackToken(callbackSecret),
      ...settings(env, 'ETC'),
    };
  }
  config.yuansfer = loadYuansfer(env, sandbox, sandboxBase);
  config.esign = loadEsign(env, sandbox, sandboxBase);
  config.tencent = loadTencent(env, sandbox, sandboxBase);
  const security = loadSecurityConfig(env, { sandbox, etc: config.etc, tencent: config.tencent });
  // Last, so a malformed provider variable is named before the (broader) authentication requirement.
  return { ...config, security, auth: loadAuthConfig(env, { sandbox, production: read(env, 'NODE_ENV') === 'production' }) };
}

export interface LimitsConfig {
  /** Deepest selection an operation may nest (the standard introspection query is exempt). */
  maxDepth: number;
  /** Aliased fields one operation may hold. */
  maxAliases: number;
  /** Lexical tokens one document may hold (checked while parsing, before anything else). */
  maxTokens: number;
  /** Largest estimated cost of one operation (GraphQL Armor's cost model: objects, scalars, depth, `first`). */
  maxCost: number;
  /** Provider read-throughs one operation may cause; the rest answer OPERATION_TOO_COSTLY. */
  providerReadsPerOperation: number;
  /** Operations per caller per minute; 0: no rate limit. */
  rateLimitPerMinute: number;
  /** Unfinished cancel tasks one caller may have; 0: no bound. */
  cancelTasksPerCaller: number;
}

/** GRAPHQL_MAX_*, PROVIDER_READS_PER_OPERATION, RATE_LIMIT_PER_MINUTE, CANCEL_TASKS_PER_CALLER (defaults: docs/security.md). */
export function loadLimits(env: Env): LimitsConfig {
  return {
    maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 12, 1, 1000),
    maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 30, 0, 100_000),
    maxTokens: int(env, 'GRAPHQL_MAX_TOKENS', 5000, 10, 1_000_000),
    maxCost: int(env, 'GRAPHQL_MAX_COST', 20_000, 1),
    providerReadsPerOperation: int(env, 'PROVIDER_READS_PER_OPERATION', 100, 0, 100_000),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 600, 0),
    cancelTasksPerCaller: int(env, 'CANCEL_TASKS_PER_CALLER', 10, 0, 10_000),
  };
}

const TENCENT_VARIABLES = [
  'TENCENT_SECRET_ID',
  'TENCENT_SECRET_KEY',
  'TENCENT_ESS_APP_ID',
  'TENCENT_ESS_PROXY_ORG_OPEN_ID',
  'TENCENT_ESS_PROXY_OPERATOR_OPEN_ID',
] as const;

/** TENCENT_* → the Tencent section: all five credentials or none; in sandbox mode, the emulator's. */
function loadTencent(env: Env, sandbox: boolean, sandboxBase: () => string): TencentConfig | undefined {
  const set = TENCENT_VARIABLES.filter((v) => read(env, v) !== undefined);
  if (set.length > 0 && set.length < TENCENT_VARIABLES.length) {
    const missing = TENCENT_VARIABLES.filter((v) => !set.includes(v));
    throw new ConfigError(missing[0], `is required when ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set`);
  }
  const callbackKey = read(env, 'TENCENT_ESS_CALLBACK_KEY');
  if (callbackKey !== undefined && Buffer.byteLength(callbackKey, 'utf8') !== 32) {
    throw new ConfigError('TENCENT_ESS_CALLBACK_KEY', `must be the 32-byte CallbackKey, got ${Buffer.byteLength(callbackKey, 'utf8')} bytes`);
  }
  const endpoint = url(env, 'TENCENT_ESS_ENDPOINT', ['http:', 'https:']);
  const common = {
    region: read(env, 'TENCENT_ESS_REGION'),
    ratePerSecond: int(env, 'TENCENT_ESS_RATE_LIMIT', 20, 1, 1000),
    ...settings(env, 'TENCENT'),
  };
  if (set.length === TENCENT_VARIABLES.length) {
    return {
      endpoint: endpoint ?? 'https://essbasic.tencentcloudapi.com',
      secretId: read(env, 'TENCENT_SECRET_ID') as string,
      secretKey: read(env, 'TENCENT_SECRET_KEY') as string,
      appId: read(env, 'TENCENT_ESS_APP_ID') as string,
      proxyOrganizationOpenId: read(env, 'TENCENT_ESS_PROXY_ORG_OPEN_ID') as string,
      proxyOperatorOpenId: read(env, 'TENCENT_ESS_PROXY_OPERATOR_OPEN_ID') as string,
      callbackKey,
      callbackToken: read(env, 'TENCENT_ESS_CALLBACK_TOKEN'),
      ...common,
    };
  }
  if (!sandbox) return undefined;
  // The emulated account always uses the sandbox's own (public) callback secrets: configured ones belong to a real
  // account and are never handed to the emulator.
  return {
    endpoint: () => `${sandboxBase()}/tencent`,
    ...TENCENT_SANDBOX,
    ...common,
  };
}
