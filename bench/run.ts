/**
 * `npm run bench`: P1–P5 (docs/benchmarks.md) against the API running as its own process, each figure beside a
 * baseline built and measured in the same run, printed as one table with the machine it ran on.
 *
 * P1 `signFlow` with `events(first: 5)` (2 events): requests/s vs bare Apollo Server 5 + express 5 answering the
 *    same JSON from memory.                                                                   target ≥ 1.0×
 * P2 new ETC callbacks stored and acknowledged per second vs a bare node:http acknowledger.
 *                                                                  target ≥ 0.25× (SQLite), ≥ 0.10× (PostgreSQL)
 * P3 one event to BENCH_SUBSCRIBERS graphql-ws subscribers of `signFlowEvents { id status flow { id status } }`:
 *    p99 delivery vs a bare graphql-ws server pushing the same payload; RSS per subscriber.
 *                                                                  target p99 ≤ 500 ms, ≤ 50 KB per subscriber
 * P4 BENCH_CANCEL_FLOWS-flow Tencent cancel with per-flow callbacks on, the Tencent emulator in its own process
 *    (bench/support/cancel-processes.ts), wall time vs ceil(N/100)/20 s.      target ≤ 115 % of the bound
 * P5 `_entities` of BENCH_ENTITIES SignFlow references: store queries per request.          target 1 per type
 *
 * P1 and P2 alternate load windows on the API and on its baseline BENCH_ROUNDS (3) times and report the round with
 * the median ratio, all ratios beside it.
 *
 * Knobs: BENCH_ONLY=P1,P3 (default all), BENCH_CONNECTIONS (32), BENCH_DURATION_MS (8000) and BENCH_WARMUP_MS
 * (2000) per load window, BENCH_ROUNDS (3), BENCH_SUBSCRIBERS (10000), BENCH_CANCEL_FLOWS (10000), BENCH_ENTITIES (100). With
 * BENCH_DATABASE_URL (or TEST_DATABASE_URL) = postgres://…, P1, P2, P4 and P5 also run on PostgreSQL, each in a
 * fresh schema dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { cancelAcrossProcesses } from './support/cancel-processes';
import type { LoadConfig, LoadResult } from './support/load';
import { machine, rssKb, runWorker, sleep, startApi, Worker, type Server } from './support/proc';

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
};

const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const DURATION_MS = num('BENCH_DURATION_MS', 8000);
const WARMUP_MS = num('BENCH_WARMUP_MS', 2000);
const SUBSCRIBERS = num('BENCH_SUBSCRIBERS', 10_000);
const CANCEL_FLOWS = num('BENCH_CANCEL_FLOWS', 10_000);
const ENTITY_REFS = num('BENCH_ENTITIES', 100);
const ROUNDS = num('BENCH_ROUNDS', 3);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'P1,P2,P3,P4,P5').split(',').map((s) => s.trim().toUpperCase()));
const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;

interface Row {
  id: string;
  measure: string;
  store: string;
  api: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean;
}
const rows: Row[] = [];
/** Each row is also written to stderr as soon as it is measured, so a cut run still shows what it measured. */
const record = (row: Row) => {
  rows.push(row);
  process.stderr.write(`bench: ${row.id} ${row.store}: ${row.api} vs ${row.baseline} = ${row.ratio} (target ${row.target}: ${row.met ? 'met' : 'NOT met'})\n`);
};
const schemas: string[] = [];

/** A fresh PostgreSQL schema for one API process, as a connection string whose search_path names it. */
async function pgDatabase(): Promise<string> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  schemas.push(schema);
  return `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

async function dropSchemas(): Promise<void> {
  if (schemas.length === 0) return;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  for (const schema of schemas) await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.end();
}

const stores = (): Array<{ name: string; env: () => Promise<Record<string, string>> }> => [
  { name: 'sqlite', env: async () => ({}) },
  ...(PG_URL ? [{ name: 'postgres', env: async () => ({ DATABASE_URL: await pgDatabase() }) }] : []),
];

function load(config: Omit<LoadConfig, 'connections' | 'warmupMs' | 'durationMs'>): Promise<LoadResult> {
  return runWorker<LoadResult>('load', { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS, ...config });
}

/** A figure made of wrong answers (refusals, errors) measures nothing: the row fails instead. */
function checkLoad(what: string, r: LoadResult): void {
  if (r.failed > 0) throw new Error(`${what}: ${r.failed} of ${r.requests} answers were not the expected one (first: ${r.firstFailure})`);
}

async function withServer<T>(server: Server | Promise<Server>, fn: (s: Server) => Promise<T>): Promise<T> {
  const s = await server;
  try {
    return await fn(s);
  } finally {
    await s.stop();
  }
}

async function withBaseline<T>(mode: string, json: unknown, fn: (url: string, worker: Worker) => Promise<T>): Promise<T> {
  const { worker, ready } = await Worker.start<{ url: string }>('baselines', json === undefined ? [mode] : [mode, JSON.stringify(json)]);
  try {
    return await fn(ready.url, worker);
  } finally {
    await worker.stop();
  }
}

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

const P1_QUERY = 'query Flow($id: ID!) { signFlow(id: $id) { id status providerStatus events(first: 5) { edges { cursor node { id status source } } } } }';

/** A flow with two events: read through while signing (SYNC), then completed by the provider's callback. */
async function flowWithTwoEvents(api: Server): Promise<{ request: string; answer: Record<string, unknown> }> {
  const { flowId } = (await post(`${api.url}/sandbox/_admin/etc/flows`, { status: 'SIGNING' })) as { flowId: string };
  const request = JSON.stringify({ query: P1_QUERY, variables: { id: `ETC:${flowId}` } });
  await post(`${api.url}/graphql`, request);
  await post(`${api.url}/sandbox/_admin/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(50)) {
    const answer = (await post(`${api.url}/graphql`, request)) as { data?: { signFlow?: { events: { edges: unknown[] } } } };
    if (answer.data?.signFlow?.events.edges.length === 2) return { request, answer: answer.data as Record<string, unknown> };
  }
  throw new Error('P1: the flow never reached two events');
}

/**
 * Load windows on the API and on its baseline, alternating, BENCH_ROUNDS times (both servers up throughout): this
 * machine's speed drifts by up to a factor of two between minutes, so a ratio is only meaningful between windows
 * measured side by side. The figures reported are those of the round with the median ratio.
 */
async function sideBySide(what: string, api: Omit<LoadConfig, 'connections' | 'warmupMs' | 'durationMs'>, baseline: typeof api): Promise<{ api: LoadResult; baseline: LoadResult; ratio: number; ratios: number[] }> {
  const rounds: Array<{ api: LoadResult; baseline: LoadResult; ratio: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await load(api);
    checkLoad(`${what} API`, a);
    const b = await load(baseline);
    checkLoad(`${what} baseline`, b);
    rounds.push({ api: a, baseline: b, ratio: a.perSecond / b.perSecond });
  }
  const sorted = [...rounds].sort((x, y) => x.ratio - y.ratio);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return { ...median, ratios: rounds.map((r) => r.ratio) };
}

const ratios = (r: { ratios: number[] }) => (r.ratios.length > 1 ? ` [rounds ${r.ratios.map((x) => x.toFixed(2)).join(', ')}]` : '');

async function p1(): Promise<void> {
  for (const store of stores()) {
    await withServer(startApi(await store.env()), async (api) => {
      const { request, answer } = await flowWithTwoEvents(api);
      await withBaseline('apollo', answer, async (url) => {
        const r = await sideBySide(`P1 (${store.name})`, { url: `${api.url}/graphql`, body: request, expect: '"signFlow"' }, { url: `${url}/graphql`, body: request, expect: '"signFlow"' });
        record({
          id: 'P1',
          measure: `signFlow + events(first: 5), req/s (p99 ms)`,
          store: store.name,
          api: `${r.api.perSecond.toFixed(0)} (${r.api.p99Ms.toFixed(1)})`,
          baseline: `${r.baseline.perSecond.toFixed(0)} (${r.baseline.p99Ms.toFixed(1)}) bare Apollo`,
          ratio: `${r.ratio.toFixed(2)}×${ratios(r)}`,
          target: '≥ 1.00×',
          met: r.ratio >= 1,
        });
      });
    });
  }
}

async function p2(): Promise<void> {
  await withBaseline('ack', undefined, async (url) => {
    for (const store of stores()) {
      await withServer(startApi(await store.env()), async (api) => {
        const r = await sideBySide(`P2 (${store.name})`, { url: `${api.url}/callbacks/etc`, etc: true, expect: '"000"' }, { url: `${url}/callbacks/etc`, etc: true, expect: '"000"' });
        const target = store.name === 'sqlite' ? 0.25 : 0.1;
        record({
          id: 'P2',
          measure: 'new ETC callbacks stored + acked, /s (p99 ms)',
          store: store.name,
          api: `${r.api.perSecond.toFixed(0)} (${r.api.p99Ms.toFixed(1)})`,
          baseline: `${r.baseline.perSecond.toFixed(0)} (${r.baseline.p99Ms.toFixed(1)}) bare node:http`,
          ratio: `${r.ratio.toFixed(3)}×${ratios(r)}`,
          target: `≥ ${target.toFixed(2)}×`,
          met: r.ratio >= target,
        });
      });
    }
  });
}

const P3_QUERY = 'subscription { signFlowEvents { id status flow { id status } } }';

interface Fanout {
  p50Ms: number;
  p99Ms: number;
  kbPerSubscriber: number;
  received: number;
}

/** Connects the subscribers, sends a warm-up event then the measured one through `trigger`, and times delivery. */
async function fanout(server: { url: string; pid?: number }, trigger: () => Promise<unknown>): Promise<Fanout> {
  const before = rssKb(server.pid);
  const { worker, ready } = await Worker.start<{ connected: number; errors: number }>('subscribers', [
    JSON.stringify({ url: `${server.url.replace('http', 'ws')}/graphql`, count: SUBSCRIBERS, query: P3_QUERY }),
  ]);
  try {
    if (ready.connected !== SUBSCRIBERS) process.stderr.write(`warning: P3: ${ready.connected} of ${SUBSCRIBERS} subscribers connected\n`);
    // The warm-up event also proves every subscription is registered before the measured one.
    await sleep(500);
    await trigger();
    worker.send({ expect: 1, timeoutMs: 120_000 });
    await worker.next();
    await sleep(500);
    const after = rssKb(server.pid);
    const t0 = performance.timeOrigin + performance.now();
    await trigger();
    worker.send({ expect: 2, timeoutMs: 120_000 });
    const { received } = await worker.next<{ received: number }>();
    worker.send({ since: t0 });
    const timing = await worker.next<{ p50Ms: number; p99Ms: number }>();
    return { ...timing, received, kbPerSubscriber: (after - before) / SUBSCRIBERS };
  } finally {
    await worker.stop();
  }
}

async function p3(): Promise<void> {
  let event: Record<string, unknown> | undefined;
  const measured = await withServer(startApi(), async (api) => {
    const callback = () => post(`${api.url}/callbacks/etc`, `{"sign_end_time":"2026-11-23 10:00:00","sign_flow_status":"2","sign_flow_id":"${randomBytes(16).toString('hex')}","sign_file_url":""}`);
    const r = await fanout({ url: api.url, pid: api.child.pid }, callback);
    // The payload the baseline pushes: what the API pushed.
    const answer = (await post(`${api.url}/graphql`, { query: '{ signFlows(first: 1) { edges { node { id status } } } }' })) as { data: { signFlows: { edges: Array<{ node: unknown }> } } };
    event = { id: '2', status: 'COMPLETED', source: 'CALLBACK', flow: answer.data.signFlows.edges[0]!.node };
    return r;
  });
  const baseline = await withBaseline('ws', event, (url, worker) => fanout({ url, pid: worker.child.pid }, () => post(`${url}/publish`, {})));
  const met = measured.p99Ms <= 500 && measured.kbPerSubscriber <= 50 && measured.received === SUBSCRIBERS;
  record({
    id: 'P3',
    measure: `1 event → ${SUBSCRIBERS} subscribers: p50/p99 ms, KB RSS/sub`,
    store: 'sqlite',
    api: `${measured.p50Ms.toFixed(0)}/${measured.p99Ms.toFixed(0)} ms, ${measured.kbPerSubscriber.toFixed(1)} KB${measured.received === SUBSCRIBERS ? '' : ` (${measured.received} got it)`}`,
    baseline: `${baseline.p50Ms.toFixed(0)}/${baseline.p99Ms.toFixed(0)} ms, ${baseline.kbPerSubscriber.toFixed(1)} KB bare graphql-ws`,
    ratio: `${(measured.p99Ms / baseline.p99Ms).toFixed(2)}× p99`,
    target: 'p99 ≤ 500 ms, ≤ 50 KB',
    met,
  });
}

async function p4(): Promise<void> {
  for (const store of stores()) {
    const all = await cancelAcrossProcesses(CANCEL_FLOWS, await store.env(), ROUNDS);
    for (const x of all) process.stderr.write(`bench: P4 ${store.name}: ${x.calls} calls, last at ${x.lastCallS.toFixed(2)} s, ${x.rateLimited} RequestLimitExceeded, wall ${x.wallS.toFixed(2)} s ${x.state}\n`);
    // The round with the median wall time; every round's percentage beside it.
    const r = [...all].sort((a, b) => a.wallS - b.wallS)[Math.floor(all.length / 2)]!;
    const pct = (r.wallS / r.boundS) * 100;
    const rounds = all.length > 1 ? ` [rounds ${all.map((x) => `${((x.wallS / x.boundS) * 100).toFixed(0)} %`).join(', ')}]` : '';
    record({
      id: 'P4',
      measure: `cancel ${r.flows} Tencent flows, per-flow callbacks on, emulator in its own process: wall s`,
      store: store.name,
      api: `${r.wallS.toFixed(2)} s (${r.succeeded} ${r.state})`,
      baseline: `${r.boundS.toFixed(2)} s rate-limit bound`,
      ratio: `${pct.toFixed(0)} %${rounds}`,
      target: '≤ 115 %',
      met: pct <= 115 && all.every((x) => x.state === 'SUCCEEDED'),
    });
  }
}

async function p5(): Promise<void> {
  for (const store of stores()) {
    const databaseUrl = store.name === 'postgres' ? (await store.env()).DATABASE_URL : undefined;
    const r = await runWorker<{ refs: number; statements: number; flowSelects: number; medianMs: number }>('entities', { refs: ENTITY_REFS, databaseUrl });
    record({
      id: 'P5',
      measure: `_entities of ${r.refs} SignFlow refs: store queries (median ms)`,
      store: store.name,
      api: `${r.statements} (${r.medianMs.toFixed(1)} ms)`,
      baseline: `1 per type`,
      ratio: `${r.flowSelects} on flows`,
      target: '1 query per type',
      met: r.statements <= 1,
    });
  }
}

function print(): void {
  const m = machine();
  const headers = ['', 'measure', 'store', 'API', 'baseline (same run)', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [r.id, r.measure, r.store, r.api, r.baseline, r.ratio, r.target, r.met ? 'yes' : 'NO']);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(widths[i] as number)).join(' | ')} |`;
  process.stdout.write(
    `\nnpm run bench — ${m.cores} cores, ${m.cpu}, node ${m.node}, load average at the end ${m.load}; ${CONNECTIONS} keep-alive connections, ` +
      `${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s per load window, load generated by a separate process\n\n`,
  );
  process.stdout.write(`${line(headers)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const c of cells) process.stdout.write(`${line(c)}\n`);
  process.stdout.write('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const m = machine();
  process.stderr.write(`bench: ${m.cores} cores, ${m.cpu}, node ${m.node}, load average ${m.load}${PG_URL ? '; PostgreSQL rows too' : ''}\n`);
  const parts: Array<[string, () => Promise<void>]> = [
    ['P1', p1],
    ['P2', p2],
    ['P3', p3],
    ['P4', p4],
    ['P5', p5],
  ];
  try {
    for (const [id, run] of parts) {
      if (!ONLY.has(id)) continue;
      const t = Date.now();
      try {
        await run();
      } catch (error) {
        process.stderr.write(`${id} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        record({ id, measure: 'failed (see above)', store: '', api: '', baseline: '', ratio: '', target: '', met: false });
      }
      process.stderr.write(`bench: ${id} done in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await dropSchemas().catch((error) => process.stderr.write(`dropping bench schemas failed: ${(error as Error).message}\n`));
  }
  print();
  process.stderr.write(`bench: ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
