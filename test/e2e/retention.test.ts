import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { openStore, type SqlStore } from '../../src/store';
import type { StoredEvent } from '../../src/store/types';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { postgresFactory, reportSkippedPostgres, TEST_DATABASE_URL } from '../support/stores';

reportSkippedPostgres('event retention');

const DAY = 86_400_000;
const EVENTS = 'subscription ($after: String) { signFlowEvents(ids: ["ETC:kept"], after: $after) { id status } }';
const CONNECTION = 'query ($after: String) { signFlow(id: "ETC:kept") { events(after: $after) { edges { cursor node { id status } } } } }';

interface Target {
  name: string;
  /** A fresh store and the environment that points the app at it. */
  open(): Promise<{ store: SqlStore; env: Record<string, string> }>;
  cleanup(): Promise<void>;
}

function targets(): Target[] {
  const dirs: string[] = [];
  const list: Target[] = [
    {
      name: 'SQLite',
      async open() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-retention-'));
        dirs.push(dir);
        return { store: await openStore({ dataDir: dir }), env: { DATA_DIR: dir } };
      },
      async cleanup() {
        for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
      },
    },
  ];
  if (TEST_DATABASE_URL) {
    const pg = postgresFactory(TEST_DATABASE_URL);
    list.push({
      name: 'PostgreSQL',
      async open() {
        const store = await pg.open();
        return { store, env: { DATABASE_URL: pg.databaseUrl!() } };
      },
      cleanup: () => pg.cleanup(),
    });
  }
  return list;
}

/** Four events of one flow received 10, 9, 1 and 0 days ago. */
async function seed(store: SqlStore): Promise<StoredEvent[]> {
  await store.flows.save({ id: 'ETC:kept', provider: 'ETC', providerFlowId: 'kept', status: 'SIGNING' });
  return store.transaction((tx) =>
    tx.events.appendMany(
      [10, 9, 1, 0].map((days, i) => ({
        kind: 'signflow' as const,
        subjectId: 'ETC:kept',
        provider: 'ETC',
        status: ['DRAFT', 'SIGNING', 'SIGNING', 'COMPLETED'][i],
        providerStatus: null,
        source: 'CALLBACK' as const,
        occurredAt: null,
        data: null,
        receivedAt: new Date(Date.now() - days * DAY),
      })),
    ),
  );
}

describe.each(targets().map((t) => [t.name, t] as const))('event retention (%s)', (_name, target) => {
  let app: TestApp;
  let events: StoredEvent[];

  beforeAll(async () => {
    const { store, env } = await target.open();
    events = await seed(store);
    await store.close();
    app = await startTestApp({ env: { ...env, EVENT_RETENTION_DAYS: '5', RECONCILE_INTERVAL_MS: '0' } });
    // Housekeeping runs at start-up.
    await waitFor(async () => (await app.services.store.events.prunedThrough()) === events[1].id, { what: 'events older than 5 days to be pruned' });
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await target.cleanup();
  });

  it('deletes the events older than EVENT_RETENTION_DAYS and keeps the rest', async () => {
    const left = await app.services.store.events.listAfter(0, {}, 10);
    expect(left.map((e) => e.id)).toEqual([events[2].id, events[3].id]);
  });

  it('a subscription resuming from a pruned cursor gets CURSOR_EXPIRED naming the oldest usable cursor', async () => {
    const sub = collect(app.ws(), EVENTS, { after: String(events[0].id) });
    await sub.done;
    expect(sub.items).toEqual([]);
    expect(sub.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining(`resume with after ${events[1].id} or later`),
        extensions: expect.objectContaining({ code: 'CURSOR_EXPIRED', oldestAfter: String(events[1].id) }),
      }),
    ]);
  });

  it('a subscription resuming from the oldest usable cursor replays everything kept, with no gap', async () => {
    const sub = collect<{ signFlowEvents: { id: string; status: string } }>(app.ws(), EVENTS, { after: String(events[1].id) });
    await waitFor(() => sub.items.length >= 2, { what: 'the replay' });
    sub.stop();
    expect(sub.items.map((m) => m.signFlowEvents)).toEqual([
      { id: String(events[2].id), status: 'SIGNING' },
      { id: String(events[3].id), status: 'COMPLETED' },
    ]);
    expect(sub.errors).toEqual([]);
  });

  it('after 0 (a client that has seen nothing) replays every event still kept', async () => {
    const sub = collect<{ signFlowEvents: { id: string } }>(app.ws(), EVENTS, { after: '0' });
    await waitFor(() => sub.items.length >= 2, { what: 'the replay' });
    sub.stop();
    expect(sub.items.map((m) => m.signFlowEvents.id)).toEqual([String(events[2].id), String(events[3].id)]);
  });

  it('the events connection answers CURSOR_EXPIRED for a pruned cursor and pages what is kept otherwise', async () => {
    const expired = await app.gql(CONNECTION, { after: String(events[0].id) });
    expect(expired.errors?.[0]?.extensions).toMatchObject({ code: 'CURSOR_EXPIRED' });
    const fresh = await app.gql<{ signFlow: { events: { edges: Array<{ cursor: string }> } } }>(CONNECTION, {});
    expect(fresh.errors).toBeUndefined();
    expect(fresh.data!.signFlow.events.edges.map((e) => e.cursor)).toEqual([String(events[2].id), String(events[3].id)]);
    const resumed = await app.gql<{ signFlow: { events: { edges: Array<{ cursor: string }> } } }>(CONNECTION, { after: String(events[2].id) });
    expect(resumed.data!.signFlow.events.edges.map((e) => e.cursor)).toEqual([String(events[3].id)]);
  });

  it('the CLI (events --after a pruned id) exits 1 and says how to resume', async () => {
    const bin = path.resolve(__dirname, '..', '..', 'bin', 'esign-lifecycle.js');
    const child = spawn(process.execPath, [bin, '--url', app.url, 'events', '--after', String(events[0].id)], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('CURSOR_EXPIRED');
    expect(stderr).toContain(`resume with after ${events[1].id} or later`);
  }, 30_000);

  it('autoDebitEvents checks its cursor the same way', async () => {
    const sub = collect(app.ws(), 'subscription ($after: String) { autoDebitEvents(after: $after) { id } }', { after: '1' });
    await sub.done;
    expect(JSON.stringify(sub.errors)).toContain('CURSOR_EXPIRED');
  });
});

describe('EVENT_RETENTION_DAYS', () => {
  it('keeps events forever by default and refuses a malformed value naming the variable', () => {
    expect(loadConfig({}).eventRetentionDays).toBeUndefined();
    expect(loadConfig({ EVENT_RETENTION_DAYS: '90' }).eventRetentionDays).toBe(90);
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: 'a week' })).toThrow(/^EVENT_RETENTION_DAYS: must be a whole number/);
  });
});
