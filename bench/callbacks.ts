/**
 * `npm run bench:callbacks`: how many provider callbacks one API process stores per second, and how long a provider
 * waits for its acknowledgement. The API runs as its own process (`node dist/src/main.js`, as in production); this
 * process is the provider posting ETC callbacks over keep-alive HTTP at a fixed concurrency, and a graphql-ws
 * subscriber to `signFlowEvents` that counts what reaches it.
 *
 * Each round posts BENCH_CALLBACKS (default 2000) callbacks for new flows (one receipt, one flow, one event each),
 * then posts them all again (the provider's retries: deduped, no event). BENCH_CONCURRENCY=1,16,64 (default) sets
 * the rounds; DATABASE_URL=postgres://… runs the API on PostgreSQL (a fresh schema is not created: use an empty
 * database).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const MAIN = path.resolve(__dirname, '..', 'src', 'main.js');

interface Phase {
  wallS: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, SANDBOX: 'on', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`the API exited during start-up (code ${child.exitCode})`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the API did not start within 30 s');
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/** Posts every body with at most `concurrency` in flight; a callback counts as failed unless the answer is `000`. */
async function post(url: string, bodies: string[], concurrency: number): Promise<Phase> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++] as string;
      const sent = performance.now();
      const res = await fetch(`${url}/callbacks/etc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = (await res.json()) as { response_code?: string };
      latencies.push(performance.now() - sent);
      if (answer.response_code !== '000') failed += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { wallS, perSecond: bodies.length / wallS, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failed };
}

async function main(): Promise<void> {
  const count = Number(process.env.BENCH_CALLBACKS ?? 2000);
  const levels = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map((s) => Number(s.trim()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-bench-callbacks-'));
  const { url, child } = await startServer(dir);
  const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
  let delivered = 0;
  const stop = ws.subscribe({ query: 'subscription { signFlowEvents(provider: ETC) { status } }' }, { next: () => (delivered += 1), error: () => undefined, complete: () => undefined });
  const rows: Array<{ concurrency: number; fresh: Phase; resent: Phase; events: number }> = [];
  try {
    // The subscription is live once a warm-up callback's event reaches it; the warm-up also opens the connections.
    const warm = Array.from({ length: 50 }, () => body());
    for (const deadline = Date.now() + 10_000; delivered === 0 && Date.now() < deadline; ) {
      await post(url, warm.splice(0, 1), 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (delivered === 0) throw new Error('the subscription never received an event');
    await post(url, warm, 8);
    // Let the warm-up's events arrive before counting: no change in the count for 300 ms.
    for (let seen = -1; seen !== delivered; ) {
      seen = delivered;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    for (const concurrency of levels) {
      const bodies = Array.from({ length: count }, () => body());
      const before = delivered;
      const fresh = await post(url, bodies, concurrency);
      const resent = await post(url, bodies, concurrency);
      // Every acknowledged new flow makes one event; wait until the subscriber has them all.
      for (const deadline = Date.now() + 30_000; delivered - before < count && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      rows.push({ concurrency, fresh, resent, events: delivered - before });
    }
  } finally {
    stop();
    await ws.dispose();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(i === 0 ? 11 : 12)).join(' ');
  process.stdout.write(
    `\nETC callbacks into one API process (store: ${process.env.DATABASE_URL ? 'postgres' : 'sqlite'}); ${count} new flows per round, then the same ${count} again as retries\n` +
      'per s = acknowledged callbacks per second; p50/p99 = time a provider waits for the answer; events = reached the subscriber\n\n',
  );
  process.stdout.write(`${line(['concurrency', 'new per s', 'new p50 ms', 'new p99 ms', 'retry per s', 'retry p50 ms', 'retry p99 ms', 'failed', 'events'])}\n`);
  for (const r of rows) {
    process.stdout.write(
      `${line([r.concurrency, r.fresh.perSecond.toFixed(0), r.fresh.p50Ms.toFixed(1), r.fresh.p99Ms.toFixed(1), r.resent.perSecond.toFixed(0), r.resent.p50Ms.toFixed(1), r.resent.p99Ms.toFixed(1), r.fresh.failed + r.resent.failed, r.events])}\n`,
    );
  }
  process.stdout.write('\n');
}

/** A seed-001 callback completing a flow the API has never seen. */
function body(): string {
  return JSON.stringify({ sign_end_time: '2026-11-23 10:00:00', sign_flow_status: '2', sign_flow_id: randomBytes(16).toString('hex'), sign_file_url: '' });
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
