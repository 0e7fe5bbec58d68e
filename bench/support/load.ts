/**
 * Keep-alive HTTP load generator (run as its own process by `npm run bench`): `connections` sockets, each sending
 * its next request as soon as the previous answer is read, for a warm-up then a measured window. Answers with
 * requests per second and latency percentiles of the measured window. With `etc: true`, each request is a new
 * ETC sign-flow callback completing a flow never seen before.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadConfig {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  etc?: boolean;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** A response is good when its body contains this text. */
  expect?: string;
}

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  firstFailure?: string;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

export function etcBody(): string {
  return `{"sign_end_time":"2026-11-23 10:00:00","sign_flow_status":"2","sign_flow_id":"${randomBytes(16).toString('hex')}","sign_file_url":""}`;
}

async function run(config: LoadConfig): Promise<LoadResult> {
  const target = new URL(config.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
  let measuring = false;
  let stopping = false;
  let requests = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const latencies: number[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const body = config.etc ? etcBody() : config.body;
      const started = performance.now();
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: config.method ?? 'POST',
          headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...config.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (measuring) {
              requests += 1;
              latencies.push(performance.now() - started);
              const text = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200 || (config.expect !== undefined && !text.includes(config.expect))) {
                failed += 1;
                firstFailure ??= `${res.statusCode} ${text.slice(0, 200)}`;
              }
            }
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        if (measuring) {
          failed += 1;
          firstFailure ??= error.message;
        }
        resolve();
      });
      if (body !== undefined) req.end(body);
      else req.end();
    });
  const worker = async () => {
    while (!stopping) await one();
  };
  const workers = Array.from({ length: config.connections }, worker);
  await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, config.durationMs));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  stopping = true;
  await Promise.all(workers);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests, perSecond: requests / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failed, firstFailure };
}

if (require.main === module) {
  run(JSON.parse(process.argv[2] as string) as LoadConfig).then(
    (result) => process.send!({ ready: result }),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
