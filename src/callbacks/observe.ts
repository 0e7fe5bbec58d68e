import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../logger';
import type { AppMetrics, CallbackOutcome } from '../observability/metrics';
import { tracer } from '../observability/tracing';

const DUPLICATE = Symbol('callback duplicate');

/** Called by a receiver whose callback was a retry of one already stored, before it answers. */
export function markDuplicate(res: Response): void {
  (res.locals as Record<symbol, boolean>)[DUPLICATE] = true;
}

/**
 * How a callback ended, from the receiver's answer: 2xx means the provider will not send it again (stored, or a
 * retry of one stored before), 4xx that we refused it (forged, malformed), 5xx that it was not stored and the
 * provider should retry (store down, provider not configured here).
 */
export function callbackOutcome(status: number, duplicate: boolean): CallbackOutcome {
  if (status < 300) return duplicate ? 'duplicate' : 'stored';
  if (status < 500) return 'refused';
  return 'failed';
}

/**
 * Wraps one provider's callback receiver: a span `callback <provider>` (attributes provider, outcome), the
 * `callbacks_total` count, and one log line per callback with its outcome and duration.
 */
export function observeCallback(provider: string, deps: { logger: Logger; metrics?: AppMetrics }, handler: RequestHandler): RequestHandler {
  return (req, res, next) =>
    tracer().startActiveSpan(`callback ${provider}`, { kind: SpanKind.INTERNAL, attributes: { provider } }, async (span) => {
      const started = performance.now();
      let threw = false;
      try {
        await handler(req, res, next);
      } catch (error) {
        // Express answers it 500: the provider retries.
        threw = true;
        throw error;
      } finally {
        const duplicate = (res.locals as Record<symbol, boolean>)[DUPLICATE] === true;
        const outcome = threw ? 'failed' : callbackOutcome(res.statusCode, duplicate);
        span.setAttributes({ outcome, 'http.response.status_code': res.statusCode });
        if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
        span.end();
        deps.metrics?.callback(provider, outcome);
        deps.logger.info({ provider, outcome, status: res.statusCode, durationMs: Math.round(performance.now() - started) }, `callback ${provider} ${outcome}`);
      }
    });
}
