import { ConfigError } from '../config';

export interface ObservabilityConfig {
  /** `METRICS`: serve `GET /metrics` (default on). */
  metrics: boolean;
  /** `METRICS_TOKEN`: when set, `/metrics` requires `Authorization: Bearer <token>`. Never logged. */
  metricsToken?: string;
  /** `NODE_ENV=production`: provider errors answer a stable message per code instead of the provider's text. */
  production: boolean;
}

type Env = Record<string, string | undefined>;

/**
 * The observability variables (README "Configuration"). Tracing's own variables (`OTEL_*`) are read by
 * src/telemetry.ts before anything else loads, so they are not here.
 */
export function loadObservabilityConfig(env: Env): ObservabilityConfig {
  const raw = env.METRICS?.trim().toLowerCase();
  if (raw !== undefined && raw !== '' && !['on', 'off'].includes(raw)) throw new ConfigError('METRICS', 'must be "on" or "off"');
  const token = env.METRICS_TOKEN?.trim();
  if (token !== undefined && token !== '' && token.length < 16) throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  return {
    metrics: raw !== 'off',
    metricsToken: token === '' ? undefined : token,
    production: env.NODE_ENV?.trim() === 'production',
  };
}
