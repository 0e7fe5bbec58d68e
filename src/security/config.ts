import { parseOrigins } from '../auth/config';
import { ConfigError } from '../config-error';
import type { OriginPolicy } from './urls';

type Env = Record<string, string | undefined>;

/** What production mode and the callback and URL rules are set to (README "Configuration", docs/security.md). */
export interface SecurityConfig {
  /** NODE_ENV=production. */
  production: boolean;
  /** INTROSPECTION: `__schema` / `__type` answered. Default on, except in production. */
  introspection: boolean;
  /**
   * "Did you mean …" in error messages. Follows INTROSPECTION: a suggestion reveals names of the schema one guess
   * at a time, which is only worth hiding when the schema itself is hidden.
   */
  suggestions: boolean;
  /** ETC_CALLBACK_VERIFY: off lifts the start-up requirement of ETC_CALLBACK_SECRET (a secret set is still checked). */
  etcCallbackVerify: boolean;
  /** TENCENT_ESS_CALLBACK_VERIFY: off lifts the requirement of TENCENT_ESS_CALLBACK_TOKEN and _KEY. */
  tencentCallbackVerify: boolean;
  /** Where `startAutoDebit.redirectUrl` may send the payer. */
  redirectUrls: OriginPolicy;
  /** Where `initiateRescission.notifyUrl` may make e签宝 send the rescission's callbacks. */
  notifyUrls: OriginPolicy;
}

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw !== 'on' && raw !== 'off') throw new ConfigError(name, `must be "on" or "off", got ${JSON.stringify(raw)}`);
  return raw === 'on';
}

/** The providers as configured, for the callback-secret requirement. */
export interface ConfiguredProviders {
  sandbox: boolean;
  etc?: { callbackSecret?: string };
  tencent?: { callbackKey?: string; callbackToken?: string };
}

/**
 * Production mode, introspection, callback verification and caller-given URL rules. With SANDBOX=off, a configured
 * provider whose callbacks could not be proven genuine stops start-up naming the missing variable, unless its
 * `…_CALLBACK_VERIFY=off` says that is intended. e签宝 and Yuansfer callbacks are signed with the app secret / API
 * token, which those providers cannot be configured without, so they need no such rule.
 */
export function loadSecurityConfig(env: Env, providers: ConfiguredProviders): SecurityConfig {
  const production = read(env, 'NODE_ENV') === 'production';
  const introspection = onOff(env, 'INTROSPECTION', !production);
  const etcCallbackVerify = onOff(env, 'ETC_CALLBACK_VERIFY', true);
  const tencentCallbackVerify = onOff(env, 'TENCENT_ESS_CALLBACK_VERIFY', true);

  if (!providers.sandbox) {
    if (providers.etc && etcCallbackVerify && !providers.etc.callbackSecret) {
      throw new ConfigError(
        'ETC_CALLBACK_SECRET',
        'is required when ETC is configured: ETC signs no callback, so /callbacks/etc accepts only URLs carrying ?token=<this secret> (set ETC_CALLBACK_VERIFY=off to accept unproven callbacks)',
      );
    }
    if (providers.tencent && tencentCallbackVerify) {
      for (const [name, value] of [
        ['TENCENT_ESS_CALLBACK_TOKEN', providers.tencent.callbackToken],
        ['TENCENT_ESS_CALLBACK_KEY', providers.tencent.callbackKey],
      ] as const) {
        if (!value) {
          throw new ConfigError(
            name,
            'is required when Tencent is configured: callbacks are proven by Content-Signature (the token) and encrypted with the CallbackKey (set TENCENT_ESS_CALLBACK_VERIFY=off to accept unproven callbacks)',
          );
        }
      }
    }
  }

  return {
    production,
    introspection,
    suggestions: introspection,
    etcCallbackVerify,
    tencentCallbackVerify,
    redirectUrls: { origins: exactOrigins(env, 'YUANSFER_REDIRECT_ORIGINS'), loopback: providers.sandbox },
    notifyUrls: { origins: exactOrigins(env, 'ESIGN_NOTIFY_ORIGINS'), loopback: providers.sandbox },
  };
}

/** Comma-separated exact origins; `*` is never accepted (an open redirect by configuration). */
function exactOrigins(env: Env, name: string): string[] {
  if (read(env, name)?.split(',').some((entry) => entry.trim() === '*')) {
    throw new ConfigError(name, '"*" is not allowed; list the origins (scheme, host and port)');
  }
  return parseOrigins(env, name, true);
}

/** Lines logged at every start for each verification turned off, so it is never forgotten. */
export function securityWarnings(security: SecurityConfig, providers: ConfiguredProviders): string[] {
  const warnings: string[] = [];
  if (providers.sandbox) return warnings;
  if (providers.etc && !security.etcCallbackVerify && !providers.etc.callbackSecret) {
    warnings.push('ETC_CALLBACK_VERIFY=off: /callbacks/etc accepts callbacks nobody proved came from ETC; set ETC_CALLBACK_SECRET');
  }
  if (providers.tencent && !security.tencentCallbackVerify && !(providers.tencent.callbackToken && providers.tencent.callbackKey)) {
    warnings.push('TENCENT_ESS_CALLBACK_VERIFY=off: /callbacks/tencent-ess accepts callbacks without a Content-Signature or encryption; set TENCENT_ESS_CALLBACK_TOKEN and TENCENT_ESS_CALLBACK_KEY');
  }
  return warnings;
}
