import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../support/app';
import { spawnServer, stopServer, type ServerProcess } from '../support/process';
import { postgresFactory, TEST_DATABASE_URL } from '../support/stores';

const REDIS = process.env.TEST_REDIS_URL;
const withServices = Boolean(TEST_DATABASE_URL && REDIS);
if (!withServices) process.stdout.write('[tracing] PostgreSQL and Redis spans skipped: needs TEST_DATABASE_URL and TEST_REDIS_URL\n');

type AttributeValue = string | number | boolean;

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}

/** A real OTLP/HTTP receiver: accepts `POST /v1/traces`, keeps every body, decodes the JSON ones. */
class OtlpReceiver {
  readonly posts: Array<{ path: string; contentType: string; body: Buffer }> = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.posts.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      const json = (req.headers['content-type'] ?? '').includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  spans(): ReceivedSpan[] {
    const spans: ReceivedSpan[] = [];
    for (const post of this.posts.filter((p) => p.path === '/v1/traces' && p.contentType.includes('json'))) {
      const body = JSON.parse(post.body.toString('utf8')) as {
        resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Omit<ReceivedSpan, 'attributes'> & { attributes?: Array<{ key: string; value: OtlpAnyValue }> }> }> }>;
      };
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            const attributes: Record<string, AttributeValue> = {};
            for (const { key, value } of span.attributes ?? []) {
              attributes[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue ?? '';
            }
            spans.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? '', name: span.name, kind: span.kind, attributes });
          }
        }
      }
    }
    return spans;
  }
}

const SPAN_KIND_SERVER = 2;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

describe('OpenTelemetry traces exported over OTLP/HTTP by the real server process', () => {
  jest.setTimeout(60_000);
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-trace-'));
    dirs.push(dir);
    return dir;
  };
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  beforeEach(() => {
    receiver = new OtlpReceiver();
  });
  afterEach(async () => {
    await stopServer(server);
    server = undefined;
    await receiver.close();
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('http/json: continues the caller\'s traceparent through the GraphQL operation and the provider call, and traces callbacks', async () => {
    const endpoint = await receiver.start();
    server = await spawnServer({
      DATA_DIR: tempDir(),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'info',
    });
    const { flowId } = (await post(`${server.url}/sandbox/_admin/etc/flows`, {})) as { flowId: string };
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const answer = await post(server.graphqlUrl, { query: 'query TracedRead($id: ID!) { signFlow(id: $id) { status } }', variables: { id: `ETC:${flowId}` } }, { traceparent: `00-${traceId}-${parentId}-01` });
    expect(answer.errors).toBeUndefined();

    const ours = await waitFor(
      () => {
        const spans = receiver.spans().filter((s) => s.traceId === traceId);
        const done = spans.some((s) => s.attributes.provider === 'ETC') && spans.some((s) => s.attributes['graphql.operation.name'] === 'TracedRead');
        return done ? spans : null;
      },
      { timeoutMs: 20_000, what: 'the spans of the traced request' },
    );
    // The incoming HTTP request continues the caller's span.
    const request = ours.find((s) => s.kind === SPAN_KIND_SERVER && s.parentSpanId === parentId);
    expect(request).toBeDefined();
    // The GraphQL operation, by the semantic conventions.
    expect(ours.find((s) => s.attributes['graphql.operation.name'] === 'TracedRead')?.attributes).toMatchObject({ 'graphql.operation.type': 'query' });
    // The provider call: one span for the call, its attempt beneath it as the outgoing HTTP request.
    const call = ours.find((s) => s.attributes.provider === 'ETC')!;
    expect(call).toMatchObject({ name: 'ETC esign.signflows.query', attributes: { provider: 'ETC', action: 'esign.signflows.query', outcome: 'success', retries: 0 } });
    expect(ours.some((s) => s.parentSpanId === call.spanId)).toBe(true);
    // The operation's log line leads to its trace.
    const logLine = server.output().split('\n').find((l) => l.includes('"operation":"TracedRead"'));
    expect(logLine).toContain(`"traceId":"${traceId}"`);

    // A callback arrives in a trace of its own (the provider started it); its span names the provider and outcome.
    await post(`${server.url}/sandbox/_admin/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    const callback = await waitFor(() => receiver.spans().find((s) => s.name === 'callback ETC'), { timeoutMs: 20_000, what: 'the callback span' });
    expect(callback.attributes).toMatchObject({ provider: 'ETC', outcome: 'stored' });

    // Health probes are not traced (spawnServer polled /healthz until the server answered).
    expect(receiver.spans().some((s) => Object.values(s.attributes).some((v) => typeof v === 'string' && v.includes('/healthz')))).toBe(false);
  });

  it('http/protobuf: exports protobuf-encoded spans carrying the caller\'s trace id', async () => {
    const endpoint = await receiver.start();
    server = await spawnServer({
      DATA_DIR: tempDir(),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const traceId = randomBytes(16).toString('hex');
    await post(server.graphqlUrl, { query: 'query Protobuf { __typename }' }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    const received = await waitFor(
      () => receiver.posts.find((p) => p.path === '/v1/traces' && p.contentType === 'application/x-protobuf' && p.body.includes(Buffer.from(traceId, 'hex'))),
      { timeoutMs: 20_000, what: 'a protobuf export with the trace id' },
    );
    expect(received.body.length).toBeGreaterThan(16);
  });

  (withServices ? it : it.skip)('traces PostgreSQL queries and Redis commands inside the operation', async () => {
    const pg = postgresFactory(TEST_DATABASE_URL ?? '');
    try {
      await (await pg.open()).close();
      const endpoint = await receiver.start();
      server = await spawnServer({
        DATABASE_URL: pg.databaseUrl!(),
        REDIS_URL: REDIS!,
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      });
      const { flowId } = (await post(`${server.url}/sandbox/_admin/etc/flows`, {})) as { flowId: string };
      const traceId = randomBytes(16).toString('hex');
      // The read-through stores the flow (PostgreSQL) and publishes its event's wake-up (Redis).
      const answer = await post(server.graphqlUrl, { query: `{ signFlow(id: "ETC:${flowId}") { status } }` }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
      expect(answer.errors).toBeUndefined();
      const system = (s: ReceivedSpan) => s.attributes['db.system.name'] ?? s.attributes['db.system'];
      const ours = await waitFor(
        () => {
          const spans = receiver.spans().filter((s) => s.traceId === traceId);
          return spans.some((s) => system(s) === 'postgresql') && spans.some((s) => system(s) === 'redis') ? spans : null;
        },
        { timeoutMs: 20_000, what: 'PostgreSQL and Redis spans in the operation\'s trace' },
      );
      expect(ours.some((s) => s.attributes.provider === 'ETC')).toBe(true);
    } finally {
      await stopServer(server);
      server = undefined;
      await pg.cleanup();
    }
  });

  it('refuses to start with an unsupported OTEL_EXPORTER_OTLP_PROTOCOL, naming it', async () => {
    await expect(
      spawnServer({ DATA_DIR: tempDir(), OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).rejects.toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: must be "http\/protobuf" or "http\/json"/);
  });

  it('loads no SDK at all without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const telemetry = path.resolve(__dirname, '..', '..', 'dist', 'src', 'telemetry.js');
    const probe = `require(${JSON.stringify(telemetry)}); process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-node') || k.includes('instrumentation-http'))))`;
    const run = (env: Record<string, string>) => spawnSync(process.execPath, ['-e', probe], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
    const off = run({});
    expect(off.stderr).toBe('');
    expect(off.stdout).toBe('false');
    // The same probe sees the SDK once the endpoint is set, so the check above can tell the difference.
    expect(run({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).stdout).toBe('true');
  });
});
