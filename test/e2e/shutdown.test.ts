import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from '../support/app';
import { gqlAt, spawnServer, stopServer, type ServerProcess } from '../support/process';

describe('graceful shutdown on SIGTERM (real process)', () => {
  let server: ServerProcess | undefined;
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-shutdown-'));
  });
  afterEach(async () => {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the in-flight request, closes subscriptions with 1001 and exits 0', async () => {
    server = await spawnServer({ DATA_DIR: dir, SANDBOX: 'on', SHUTDOWN_TIMEOUT_MS: '8000' });
    const s = server;
    const closes: number[] = [];
    const client = createClient({
      url: s.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    let subscribed = false;
    client.subscribe(
      { query: 'subscription { signFlowEvents { id } }' },
      { next: () => undefined, error: () => undefined, complete: () => undefined },
    );
    client.on('connected', () => {
      subscribed = true;
    });
    const started = Date.now();
    while (!subscribed && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(subscribed).toBe(true);

    // Slow the provider down so the read-through is still running when SIGTERM arrives.
    await fetch(`${s.url}/sandbox/_admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'etc', kind: 'latency', ms: 700 }),
    });
    const inFlight = gqlAt<{ signFlow: { status: string } | null }>(s.graphqlUrl, '{ signFlow(id: "ETC:c64665aa4f1c45679e65b6fae33cd773") { status } }');
    // SIGTERM only once the provider holds the request (logged on arrival, not yet answered): it is truly in flight.
    await waitFor(async () => {
      const log = (await (await fetch(`${s.url}/sandbox/_admin/etc/requests`)).json()) as { requests: Array<{ operation?: string; status: number | null }> };
      return log.requests.some((r) => r.operation === 'esign.signflows.query' && r.status === null);
    }, { what: 'the read-through to reach the emulator' });
    const signalled = Date.now();
    s.kill('SIGTERM');

    const answer = await inFlight;
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.signFlow?.status).toBe('SIGNING');
    expect(await s.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(8000);
    expect(closes).toContain(1001);
    await client.dispose();
  });
});
