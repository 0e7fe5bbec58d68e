/**
 * OpenTelemetry tracing (docs/operations.md "Traces"). src/main.ts imports this module before anything else, because
 * the instrumentations patch `http`, `express`, `graphql`, `pg` and `ioredis` as they are first required: a module
 * loaded earlier would escape them.
 *
 * Nothing happens unless OTEL_EXPORTER_OTLP_ENDPOINT is set: the SDK is not even loaded (the `require`s below run
 * only then), so an untraced server pays nothing, and the spans made through `@opentelemetry/api` elsewhere are
 * no-ops. Exported over OTLP/HTTP, JSON or protobuf per OTEL_EXPORTER_OTLP_PROTOCOL; the other standard OTEL_*
 * variables (OTEL_SERVICE_NAME, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, …) apply.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** Requests that are not worth a trace: probes and scrapes, many a minute, each alike. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

type Env = Record<string, string | undefined>;

export interface TelemetrySettings {
  endpoint: string;
  protocol: OtlpProtocol;
}

/** Undefined when tracing is off. Throws an Error naming the variable when a value is malformed. */
export function telemetrySettings(env: Env): TelemetrySettings | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error('OTEL_EXPORTER_OTLP_ENDPOINT: is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('OTEL_EXPORTER_OTLP_ENDPOINT: must start with http:// or https://');
  // The OpenTelemetry default is http/protobuf; grpc would need another exporter and is not offered.
  const protocol = (env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf') as OtlpProtocol;
  if (!OTLP_PROTOCOLS.includes(protocol)) throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: must be ${OTLP_PROTOCOLS.map((p) => `"${p}"`).join(' or ')}`);
  return { endpoint, protocol };
}

let sdk: NodeSDK | undefined;

/** Starts the SDK once, when configured. Returns whether tracing is on. */
export function startTelemetry(env: Env = process.env): boolean {
  if (sdk) return true;
  const settings = telemetrySettings(env);
  if (!settings) return false;
  // require, not import: loaded only when tracing is on.
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  // Both exporters read the endpoint (appending /v1/traces) and headers from the environment themselves.
  const exporter: SpanExporter =
    settings.protocol === 'http/json'
      ? new (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();

  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'esign-lifecycle-subgraph',
    traceExporter: exporter,
    // Traces only: metrics are Prometheus at /metrics and logs go to stdout, so the SDK must not start its own.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? '') }),
      // Routers and handlers only: a span per middleware (request id, body parsers) says little.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Resolver spans for the root fields and one level below; deeper ones would drown the spans that matter
      // (provider calls, store queries). Variable values stay out of spans (allowValues off): they carry user input.
      new GraphQLInstrumentation({ depth: 2, ignoreTrivialResolveSpans: true, mergeItems: true }),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  return true;
}

/** Flushes the spans still batched; called on shutdown, after the server drained. */
export async function shutdownTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}

try {
  startTelemetry();
} catch (error) {
  // Before the logger exists: the same exit code and wording as any other configuration error (src/main.ts).
  process.stderr.write(`configuration error: ${(error as Error).message}\n`);
  process.exit(2);
}
