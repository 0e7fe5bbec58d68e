import pino, { type Logger } from 'pino';
import { logContextMixin } from './observability/request-id';

export type { Logger };

/**
 * Paths whose values never reach a log line. Provider secrets, signatures and callback tokens travel in headers,
 * bodies and query strings; each is listed so a careless `log.info({ req })` cannot leak one.
 */
export const REDACT_PATHS = [
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers["x-tsign-open-ca-signature"]',
  'headers["x-tsign-open-signature"]',
  'headers["content-signature"]',
  '*.secret',
  '*.secretKey',
  '*.privateKey',
  '*.appSecret',
  '*.token',
  '*.sign',
  '*.verifySign',
  '*.password',
  'config.etc.privateKey',
  'config.etc.callbackSecret',
  'config.tencent.secretKey',
  'config.tencent.callbackKey',
  'config.tencent.callbackToken',
  'config.esign.appSecret',
  'config.yuansfer.token',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to assert on redaction. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'esign-subgraph',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Every line logged while serving a request carries its id (src/observability/request-id.ts).
      mixin: logContextMixin,
    },
    options.destination,
  );
}

/** A logger that writes nothing: the default for library code and tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Removes a secret from a URL's query before it is logged (callback URLs carry `?token=`). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|secret|sign|verifySign)=)[^&#]*/gi, '$1[redacted]');
}
