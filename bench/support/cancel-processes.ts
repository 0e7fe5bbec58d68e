/**
 * P4 as deployed: the API (`node dist/src/main.js`) and the Tencent emulator (`node dist/src/sandbox/main.js`, the
 * standalone sandbox) each in its own process, like the API and Tencent's servers. The API is configured as for a
 * real Tencent account (SANDBOX=off, TENCENT_* naming the emulator's endpoint and its sandbox credentials), so it
 * calls the emulator over HTTP and takes every callback — the 100 CancelFlows results and the 10,000 per-flow
 * FlowStatusChange callbacks, AES-encrypted and signed — over HTTP, while the emulator's own work (encrypting and
 * sending those callbacks) is not billed to the API's event loop.
 *
 * Wall time runs from sending the mutation until a `cancelTaskProgress` subscriber sees the task finish.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { TENCENT_SANDBOX } from '../../src/config';
import { DIST_ROOT, freePort, sleep, startApi, stopChild } from './proc';

/** The emulator's built-in Tencent sandbox account, told to the API as if it were a real account's. */
const TENCENT_ACCOUNT = {
  TENCENT_SECRET_ID: TENCENT_SANDBOX.secretId,
  TENCENT_SECRET_KEY: TENCENT_SANDBOX.secretKey,
  TENCENT_ESS_APP_ID: TENCENT_SANDBOX.appId,
  TENCENT_ESS_PROXY_ORG_OPEN_ID: TENCENT_SANDBOX.proxyOrganizationOpenId,
  TENCENT_ESS_PROXY_OPERATOR_OPEN_ID: TENCENT_SANDBOX.proxyOperatorOpenId,
  TENCENT_ESS_CALLBACK_KEY: TENCENT_SANDBOX.callbackKey,
  TENCENT_ESS_CALLBACK_TOKEN: TENCENT_SANDBOX.callbackToken,
};

export interface CancelRow {
  flows: number;
  boundS: number;
  wallS: number;
  state: string;
  succeeded: number;
  calls: number;
  rateLimited: number;
  lastCallS: number;
}

async function json<T>(url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function startEmulator(apiPort: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(DIST_ROOT, 'src', 'sandbox', 'main.js')], {
    env: { ...process.env, SANDBOX_PORT: String(port), SANDBOX_CALLBACK_BASE: `http://127.0.0.1:${apiPort}`, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`the emulator exited during start-up (code ${child.exitCode})`);
    try {
      if ((await fetch(`${url}/_admin/tencent/stats`)).ok) return { url, stop: () => stopChild(child) };
    } catch {
      // not listening yet
    }
  }
  await stopChild(child);
  throw new Error('the emulator did not start within 30 s');
}

/** The last `cancelTaskProgress` a subscriber sees before the subscription completes (the task finished). */
export function taskEnd(client: Client, taskId: string): Promise<{ state: string; succeeded: number }> {
  return new Promise((resolve, reject) => {
    let last: { state: string; succeeded: number } | undefined;
    client.subscribe<{ cancelTaskProgress: { state: string; succeeded: number } }>(
      { query: 'subscription ($id: ID!) { cancelTaskProgress(id: $id) { state succeeded } }', variables: { id: taskId } },
      {
        next: (m) => {
          last = m.data?.cancelTaskProgress ?? last;
        },
        error: reject,
        complete: () => (last ? resolve(last) : reject(new Error('no progress received'))),
      },
    );
  });
}

type Stats = { actions: Record<string, { calls: number; rateLimited: number }> };

async function cancelOnce(apiUrl: string, emulatorUrl: string, n: number): Promise<CancelRow> {
  const { flowIds } = await json<{ flowIds: string[] }>(`${emulatorUrl}/_admin/tencent/flows/batch`, { count: n, status: 'SIGNING' });
  const before = (await json<Stats>(`${emulatorUrl}/_admin/tencent/stats`)).actions.ChannelBatchCancelFlows ?? { calls: 0, rateLimited: 0 };
  const client = createClient({ url: `${apiUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
  const started = performance.now();
  const startedAt = Date.now();
  const answer = await json<{ data?: { cancelSignFlows: { task: { id: string } | null; userErrors: unknown[] } }; errors?: unknown[] }>(`${apiUrl}/graphql`, {
    query: 'mutation ($ids: [ID!]!) { cancelSignFlows(input: { ids: $ids, reason: "基准测试" }) { task { id } userErrors { code message } } }',
    variables: { ids: flowIds.map((id) => `TENCENT_ESS:${id}`) },
  });
  const taskId = answer.data?.cancelSignFlows.task?.id;
  if (!taskId) throw new Error(`cancelSignFlows answered ${JSON.stringify(answer).slice(0, 300)}`);
  const final = await taskEnd(client, taskId);
  const wallS = (performance.now() - started) / 1000;
  await client.dispose();
  const after = (await json<Stats>(`${emulatorUrl}/_admin/tencent/stats`)).actions.ChannelBatchCancelFlows ?? { calls: 0, rateLimited: 0 };
  const requests = (await json<{ requests: Array<{ operation?: string; at: string }> }>(`${emulatorUrl}/_admin/tencent/requests`)).requests.filter(
    (r) => r.operation === 'ChannelBatchCancelFlows' && Date.parse(r.at) >= startedAt,
  );
  const lastAt = Math.max(...requests.map((r) => Date.parse(r.at)));
  return {
    flows: n,
    boundS: Math.ceil(n / 100) / 20,
    wallS,
    state: final.state,
    succeeded: final.succeeded,
    calls: after.calls - before.calls,
    rateLimited: after.rateLimited - before.rateLimited,
    lastCallS: requests.length > 0 ? (lastAt - startedAt) / 1000 : Number.NaN,
  };
}

/**
 * One warm-up of 200 flows, then `rounds` measured cancels of `n` flows each (fresh flows every time), on the store
 * `env` names (SQLite when it names none). Answers every round, in order.
 */
export async function cancelAcrossProcesses(n: number, env: Record<string, string>, rounds = 1): Promise<CancelRow[]> {
  const apiPort = await freePort();
  const emulator = await startEmulator(apiPort);
  try {
    const api = await startApi({
      ...env,
      PORT: String(apiPort),
      SANDBOX: 'off',
      // A benchmark on loopback; with SANDBOX=off authentication would otherwise be required.
      AUTH: 'off',
      ...TENCENT_ACCOUNT,
      TENCENT_ESS_ENDPOINT: `${emulator.url}/tencent`,
    });
    try {
      await json(`${emulator.url}/_admin/tencent/settings`, { flowCallbacks: process.env.BENCH_FLOW_CALLBACKS !== 'off' });
      await cancelOnce(api.url, emulator.url, 200);
      const rows: CancelRow[] = [];
      for (let i = 0; i < rounds; i++) rows.push(await cancelOnce(api.url, emulator.url, n));
      return rows;
    } finally {
      await api.stop();
    }
  } finally {
    await emulator.stop();
  }
}
