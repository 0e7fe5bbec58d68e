import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { ProviderName } from '../../src/sandbox';
import { openStore } from '../../src/store';
import { waitFor } from '../support/app';
import { freePort, providerEnv, spawnServer, stopServer, type ServerProcess } from '../support/process';
import { startSandboxServer, type SandboxServer } from '../support/sandbox';
import { postgresFactory, TEST_DATABASE_URL } from '../support/stores';

const REDIS = process.env.TEST_REDIS_URL;
const enabled = Boolean(TEST_DATABASE_URL && REDIS);
if (!enabled) process.stdout.write('[crash safety] skipped: needs TEST_DATABASE_URL and TEST_REDIS_URL\n');

const CALLBACKS = Number(process.env.CRASH_TEST_CALLBACKS ?? 2000);
/** The storm's mix: each provider's emulator completes flows and sends its own callback, signed its own way. */
const MIX: Array<{ emulator: ProviderName; provider: string; path: string; share: number }> = [
  { emulator: 'etc', provider: 'ETC', path: '/callbacks/etc', share: 0.5 },
  { emulator: 'esign', provider: 'ESIGN', path: '/callbacks/esign', share: 0.35 },
  { emulator: 'tencent', provider: 'TENCENT_ESS', path: '/callbacks/tencent-ess', share: 0.15 },
];
const EVENTS_QUERY = 'subscription ($after: String) { signFlowEvents(after: $after) { id flow { id } } }';

/**
 * A load balancer in front of the replicas, as production has: each callback goes to the next replica that is up;
 * a replica that dies mid-request costs the provider a 502, and the provider retries.
 */
async function startBalancer(targets: () => string[]): Promise<{ url: string; close: () => Promise<void> }> {
  let next = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // Providers sign with headers (X-Tsign-Open-*, Content-Signature): pass them all on, as a proxy does.
      const { host: _host, connection: _connection, 'content-length': _length, ...forwarded } = req.headers;
      const list = targets();
      const first = next++;
      const fail = () => {
        if (!res.headersSent) res.writeHead(502, { 'content-length': '13' }).end('upstream down');
        else res.destroy();
      };
      // Like a health-checked balancer: a replica that refuses the connection is skipped for the next one. A
      // replica that dies while handling the request is not retried here: the provider's own retry does that.
      const forward = (attempt: number) => {
        const target = new URL(list[(first + attempt) % list.length]);
        let answered = false;
        const upstream = http.request(
          {
            host: target.hostname, port: target.port, path: req.url, method: req.method, agent, timeout: 8000,
            headers: { ...forwarded, 'content-length': String(body.length) },
          },
          (answer) => {
            answered = true;
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const text = Buffer.concat(parts);
              res.writeHead(answer.statusCode ?? 502, { 'content-type': String(answer.headers['content-type'] ?? 'text/plain'), 'content-length': String(text.length) });
              res.end(text);
            });
            answer.on('error', fail);
          },
        );
        upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          if (!answered && error.code === 'ECONNREFUSED' && attempt + 1 < list.length) forward(attempt + 1);
          else fail();
        });
        upstream.end(body);
      };
      forward(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A subscriber that keeps every event it receives; reconnects are done by the test with `after`. */
class Listener {
  readonly ids: number[] = [];
  readonly flows: string[] = [];
  private client?: Client;
  connect(wsUrl: string): void {
    const after = this.ids.length > 0 ? String(this.ids[this.ids.length - 1]) : '0';
    this.client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    this.client.subscribe<{ signFlowEvents: { id: string; flow: { id: string } } }>(
      { query: EVENTS_QUERY, variables: { after } },
      {
        next: (m) => {
          if (m.data) {
            this.ids.push(Number(m.data.signFlowEvents.id));
            this.flows.push(m.data.signFlowEvents.flow.id);
          }
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }
  async close(): Promise<void> {
    await this.client?.dispose();
  }
}

const isStrictlyIncreasing = (ids: number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]);

(enabled ? describe : describe.skip)('crash safety: a callback storm while a replica is SIGKILLed (real processes)', () => {
  const pg = postgresFactory(TEST_DATABASE_URL ?? '');
  let sandbox: SandboxServer;
  let balancer: { url: string; close: () => Promise<void> };
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  const up = new Set<string>();

  afterAll(async () => {
    await Promise.all([stopServer(a), stopServer(b)]);
    await sandbox?.close();
    await balancer?.close();
    await pg.cleanup();
  });

  it(`every one of ${CALLBACKS} flows converges on its final status exactly once and every subscriber sees every event once, in order`, async () => {
    const migrated = await pg.open();
    await migrated.close();
    balancer = await startBalancer(() => (up.size > 0 ? [...up] : ['http://127.0.0.1:1']));
    // Real ETC retries 3 times; spaced out enough here that a retry usually lands on the surviving replica.
    sandbox = await startSandboxServer((p) => `${balancer.url}${MIX.find((m) => m.emulator === p)?.path ?? '/callbacks/etc'}`, 1000, CALLBACKS * 2);
    const env = {
      DATABASE_URL: pg.databaseUrl!(),
      REDIS_URL: REDIS!,
      ...providerEnv(sandbox.url),
      EVENT_POLL_INTERVAL_MS: '500',
      // A callback whose every retry fell on a dead replica is lost for good (ETC retries only 3 times): the flow's
      // final status is then learned by reading it again. Quiet for longer than the storm usually lasts, so the
      // reads are mostly of the flows whose callbacks were lost, not of every flow still waiting for its turn.
      RECONCILE_INTERVAL_MS: '2000',
      RECONCILE_AFTER_MS: '30000',
      RECONCILE_READS_PER_SECOND: '100',
    };
    const aPort = await freePort();
    [a, b] = await Promise.all([spawnServer(env, aPort), spawnServer(env)]);
    up.add(a.url).add(b.url);

    const onB = new Listener(); // connected to B, the replica that is never killed, the whole time
    const onA = new Listener(); // connected to A; resumes with `after` each time A comes back
    onB.connect(b.wsUrl);
    onA.connect(a.wsUrl);

    const flows: Array<{ emulator: ProviderName; id: string; subject: string }> = [];
    for (const m of MIX) {
      const emulator = sandbox.sandbox.emulators[m.emulator]!;
      const n = m === MIX[0] ? CALLBACKS - MIX.slice(1).reduce((sum, x) => sum + Math.round(CALLBACKS * x.share), 0) : Math.round(CALLBACKS * m.share);
      for (let i = 0; i < n; i++) {
        const { flowId } = await emulator.createFlow!({ status: 'SIGNING', signers: 2 });
        flows.push({ emulator: m.emulator, id: flowId, subject: `${m.provider}:${flowId}` });
      }
    }
    // Interleave the providers, as real traffic would.
    flows.sort(() => Math.random() - 0.5);
    // The API knows every flow as SIGNING before the storm (it started them, or heard of them earlier).
    const seeded = await openStore({ databaseUrl: pg.databaseUrl!() });
    await seeded.flows.saveMany(
      flows.map((f) => ({ id: f.subject, provider: f.subject.split(':')[0] as 'ETC' | 'ESIGN' | 'TENCENT_ESS', providerFlowId: f.id, status: 'SIGNING' as const })),
    );
    await seeded.close();

    let storming = true;
    let kills = 0;
    const killer = (async () => {
      while (storming) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
        if (!storming || !a) break;
        up.delete(a.url);
        a.kill('SIGKILL');
        await a.exited;
        kills++;
        a = await spawnServer(env, aPort);
        up.add(a.url);
        onA.connect(a.wsUrl);
      }
    })();

    // The storm: every flow completes, each transition sends the provider's callback through the balancer.
    for (let i = 0; i < flows.length; i++) {
      await sandbox.sandbox.emulators[flows[i].emulator]!.transition!(flows[i].id, { status: 'COMPLETED' });
      // About 200 callbacks a second: a storm on a 2-core machine, spanning several kills.
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100));
    }
    // On a loaded machine (other suites beside this one) the storm and the restarts take minutes, not seconds.
    await waitFor(() => sandbox.sandbox.kit.callbacks.pendingCount === 0, { timeoutMs: 240_000, intervalMs: 200, what: 'all deliveries to settle' });
    storming = false;
    await killer;

    const deliveries = MIX.flatMap((m) => sandbox.sandbox.kit.callbacks.list(m.emulator).map((d) => ({ ...d, flow: `${m.provider}:${d.subject}` })));
    const acknowledged = deliveries.filter((d) => d.acknowledged);
    const retried = deliveries.filter((d) => d.attempts.length > 1);
    const failed = deliveries.filter((d) => !d.acknowledged);

    const store = await openStore({ databaseUrl: pg.databaseUrl!() });
    try {
      // Every flow reaches its final status in the store: from its callback, or, when the provider gave up on the
      // callback, from reconciliation reading the flow again.
      const open = async () => {
        const stored = await store.flows.getMany(flows.map((f) => f.subject));
        return flows.filter((f) => stored.get(f.subject)?.status !== 'COMPLETED').length;
      };
      await waitFor(async () => (await open()) === 0, { timeoutMs: 120_000, intervalMs: 500, what: 'every flow to converge on COMPLETED' });

      const receipts = await store.receipts.count();
      const events = await store.events.listAfter(0, { kinds: ['signflow'] }, CALLBACKS * 3);
      const perFlow = new Map<string, number>();
      for (const e of events) perFlow.set(e.subjectId, (perFlow.get(e.subjectId) ?? 0) + 1);
      const duplicates = [...perFlow.values()].filter((n) => n > 1).length;
      const synced = events.filter((e) => e.source === 'SYNC').length;

      await waitFor(() => onB.ids.length >= events.length && onA.ids.length >= events.length, { timeoutMs: 20_000, what: 'subscribers to catch up' });

      process.stdout.write(
        `[crash safety] callbacks sent ${deliveries.length} (${MIX.map((m) => `${m.provider} ${deliveries.filter((d) => d.provider === m.emulator).length}`).join(', ')}), acknowledged ${acknowledged.length}, retried ${retried.length}, ` +
          `never acknowledged ${failed.length}, replica kills ${kills}, receipts stored ${receipts}, events stored ${events.length} ` +
          `(from callbacks ${events.length - synced}, from reconciliation ${synced}), ` +
          `flows with duplicate events ${duplicates}, delivered to the subscriber on B ${onB.ids.length}, ` +
          `to the resuming subscriber on A ${onA.ids.length}\n`,
      );

      expect(deliveries).toHaveLength(CALLBACKS);
      expect(kills).toBeGreaterThan(0);
      // Every callback acknowledged was stored (a receipt each; a callback stored just before its replica died, its
      // answer lost, has one too)...
      expect(receipts).toBeGreaterThanOrEqual(acknowledged.length);
      expect(receipts).toBeLessThanOrEqual(CALLBACKS);
      // ...every flow has exactly one event, its final status, whether the callback or a read brought it...
      for (const f of flows) expect(perFlow.get(f.subject)).toBe(1);
      expect(events).toHaveLength(CALLBACKS);
      expect(events.every((e) => e.status === 'COMPLETED')).toBe(true);
      expect(duplicates).toBe(0);
      // The subscriber on the surviving replica got every event exactly once, in cursor order.
      expect(onB.ids).toEqual(events.map((e) => e.id));
      expect(isStrictlyIncreasing(onB.ids)).toBe(true);
      // The subscriber whose replica kept dying resumed with `after` each time and missed nothing.
      expect(onA.ids).toEqual(events.map((e) => e.id));
    } finally {
      await store.close();
      await onA.close();
      await onB.close();
    }
  }, 480_000);
});
