import { trace, type Tracer } from '@opentelemetry/api';

/** The instrumentation scope of the spans this code makes itself (provider calls, callbacks). */
export const TRACER_NAME = 'esign-lifecycle-subgraph';

/**
 * The tracer for hand-made spans. Without an SDK (no OTEL_EXPORTER_OTLP_ENDPOINT) the API answers a no-op tracer,
 * so these spans cost a few allocations and go nowhere. Looked up per use: the SDK registers its provider at
 * start-up, after modules that import this one may have loaded.
 */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}
