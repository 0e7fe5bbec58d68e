import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConsecutiveFailureBreaker } from '../../src/providers/breaker';
import { ProviderBusinessError, ProviderServerError } from '../../src/providers/errors';
import { HttpPipeline, type CallSpec, type ProviderCallObserver } from '../../src/providers/http';

/** A provider that answers each request with the next status of the script (then 200). */
function scriptedServer(statuses: number[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    const status = statuses.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((done) => server.close(() => done())) }),
    ),
  );
}

const spec = (parse: CallSpec<string>['parse'], idempotent = true): CallSpec<string> => ({ operation: 'flow.query', method: 'POST', path: '/q', body: () => '{}', idempotent, parse });
const byStatus: CallSpec<string>['parse'] = (r) => {
  if (r.status === 500) throw new ProviderServerError('HTTP 500', { provider: 'ACME', httpStatus: 500 });
  if (r.status === 409) throw new ProviderBusinessError('flow finished', { provider: 'ACME', code: 'FLOW_DONE' });
  return 'ok';
};

describe('provider calls are observed once per call, retries inside', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const observations: Parameters<ProviderCallObserver['providerCall']>[0][] = [];
  const observer: ProviderCallObserver = { providerCall: (o) => observations.push(o) };
  let server: { url: string; close: () => Promise<void> } | undefined;

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });
  beforeEach(() => {
    exporter.reset();
    observations.length = 0;
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const pipeline = (url: string, extra: Partial<ConstructorParameters<typeof HttpPipeline>[0]> = {}) =>
    new HttpPipeline({ provider: 'ACME', baseUrl: url, timeoutMs: 5_000, retry: { maxRetries: 3 }, sleep: async () => undefined, observer, ...extra });

  it('one span and one observation for a call that succeeded on its third attempt', async () => {
    server = await scriptedServer([500, 500]);
    const client = pipeline(server.url);
    await expect(client.call(spec(byStatus))).resolves.toBe('ok');
    client.close();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe('ACME flow.query');
    expect(spans[0]!.attributes).toEqual({ provider: 'ACME', action: 'flow.query', outcome: 'success', retries: 2 });
    expect(spans[0]!.events.map((e) => [e.name, e.attributes?.attempt, e.attributes?.['error.type'], e.attributes?.retry])).toEqual([
      ['attempt failed', 0, 'server', true],
      ['attempt failed', 1, 'server', true],
    ]);
    expect(observations).toEqual([{ provider: 'ACME', action: 'flow.query', outcome: 'success', seconds: expect.any(Number) }]);
  });

  it('the error kind as outcome for a refusal, and `unavailable` without a request once the breaker is open', async () => {
    server = await scriptedServer([409, 500]);
    const breaker = new ConsecutiveFailureBreaker({ provider: 'ACME', failureThreshold: 1, resetAfterMs: 60_000 });
    const client = pipeline(server.url, { breaker, retry: { maxRetries: 0 } });
    await expect(client.call(spec(byStatus, false))).rejects.toBeInstanceOf(ProviderBusinessError);
    await expect(client.call(spec(byStatus, false))).rejects.toBeInstanceOf(ProviderServerError);
    await expect(client.call(spec(byStatus, false))).rejects.toMatchObject({ kind: 'unavailable' });
    client.close();
    expect(observations.map((o) => o.outcome)).toEqual(['business', 'server', 'unavailable']);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.attributes.outcome, s.attributes.retries, s.attributes['error.type'], s.status.code])).toEqual([
      ['business', 0, 'business', 2],
      ['server', 0, 'server', 2],
      ['unavailable', 0, 'unavailable', 2],
    ]);
    expect(spans[0]!.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('flow finished');
  });
});
