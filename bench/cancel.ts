/**
 * `npm run bench:cancel`: cancels 1,000 and 10,000 Tencent flows through the real server (GraphQL over HTTP, the
 * in-process emulator, encrypted callbacks back over HTTP, SQLite) and prints the wall time beside the bound
 * Tencent's rate limit sets, ceil(N/100)/20 s, with the RequestLimitExceeded answers the emulator gave.
 *
 * The CancelFlows result callbacks are always on. Per-flow FlowStatusChange callbacks (10,000 more HTTP requests,
 * sent and received by this same process) are off unless BENCH_FLOW_CALLBACKS=on: they measure the emulator more
 * than the API, and a cancel task does not wait for them.
 *
 * BENCH_SIZES=1000,10000 (default) chooses the batch sizes; DATABASE_URL=postgres://… runs it on PostgreSQL.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../src/app';
import { silentLogger } from '../src/logger';
import { taskEnd } from './support/cancel-processes';

const PER_CALL = 100;
const RATE = 20;

interface Row {
  flows: number;
  calls: number;
  boundS: number;
  wallS: number;
  firstCallS: number;
  lastCallS: number;
  rateLimited: number;
  succeeded: number;
  state: string;
}

async function gql<T>(app: RunningApp, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function runOnce(app: RunningApp, n: number): Promise<Row> {
  const tencent = app.sandbox!.tencent;
  const ids = Array.from({ length: n }, () => `TENCENT_ESS:${tencent.createFlow({ status: 'SIGNING' }).flowId}`);
  const before = tencent.stats().ChannelBatchCancelFlows ?? { calls: 0, rateLimited: 0 };
  const client = createClient({ url: app.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  // Wall time runs from sending the mutation until the subscriber sees the task finish.
  const started = performance.now();
  const startedAt = Date.now();
  const { cancelSignFlows } = await gql<{ cancelSignFlows: { task: { id: string }; userErrors: unknown[] } }>(
    app,
    'mutation ($ids: [ID!]!) { cancelSignFlows(input: { ids: $ids, reason: "基准测试" }) { task { id } userErrors { code message } } }',
    { ids },
  );
  const taskId = cancelSignFlows.task.id;
  const final = await taskEnd(client, taskId);
  const wallS = (performance.now() - started) / 1000;
  await client.dispose();
  const requests = app.sandbox!.kit.requests.list('tencent').filter((r) => r.operation === 'ChannelBatchCancelFlows' && Date.parse(r.at) >= startedAt);
  const at = (i: number) => (requests.length > 0 ? (Date.parse(requests.at(i)!.at) - startedAt) / 1000 : Number.NaN);
  const after = tencent.stats().ChannelBatchCancelFlows ?? { calls: 0, rateLimited: 0 };
  const calls = Math.ceil(n / PER_CALL);
  return {
    flows: n,
    calls: after.calls - before.calls,
    boundS: calls / RATE,
    wallS,
    firstCallS: at(0),
    lastCallS: at(-1),
    rateLimited: after.rateLimited - before.rateLimited,
    succeeded: final.succeeded,
    state: final.state,
  };
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map((s) => Number(s.trim()));
  const flowCallbacks = process.env.BENCH_FLOW_CALLBACKS === 'on';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-bench-'));
  const app = await startApp({
    logger: silentLogger,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, SANDBOX: 'on', LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', REDIS_URL: process.env.REDIS_URL },
    sandbox: { callbackRetryDelaysMs: () => 200 },
  });
  const rows: Row[] = [];
  try {
    // One small warm-up so JIT and connection set-up are not billed to the first size.
    app.sandbox!.tencent.settings({ flowCallbacks: flowCallbacks });
    await runOnce(app, 200);
    for (const n of sizes) rows.push(await runOnce(app, n));
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(i === 0 ? 7 : 13)).join(' ');
  process.stdout.write(
    `\ncancelSignFlows over Tencent (store: ${process.env.DATABASE_URL ? 'postgres' : 'sqlite'}; rate limiter: ${process.env.REDIS_URL ? 'redis' : 'in-memory'}; ` +
      `per-flow FlowStatusChange callbacks: ${flowCallbacks ? 'on' : 'off (BENCH_FLOW_CALLBACKS=on to include them)'})\n` +
      'wall = from sending the mutation until a cancelTaskProgress subscriber sees the task finish; bound = ceil(N/100)/20 s\n\n',
  );
  process.stdout.write(`${line(['flows', 'calls', 'bound s', 'wall s', 'wall/bound', 'first call s', 'last call s', 'RateLimitExc', 'cancelled', 'state'])}\n`);
  for (const r of rows) {
    process.stdout.write(
      `${line([r.flows, r.calls, r.boundS.toFixed(3), r.wallS.toFixed(3), `${((r.wallS / r.boundS) * 100).toFixed(1)}%`, r.firstCallS.toFixed(3), r.lastCallS.toFixed(3), r.rateLimited, r.succeeded, r.state])}\n`,
    );
  }
  process.stdout.write('\n');
  // `npm run bench` reads the rows from this line.
  if (process.env.BENCH_JSON === '1') process.stdout.write(`BENCH_JSON ${JSON.stringify(rows)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
