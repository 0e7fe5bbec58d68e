import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { sql } from 'kysely';
import { etcCallbackHandler } from '../../src/callbacks/etc';
import { EventFeed } from '../../src/events/feed';
import { createNotifier, type Notifier } from '../../src/events/notifier';
import { FlowRecorder, syncReport } from '../../src/lifecycle/recorder';
import { silentLogger } from '../../src/logger';
import type { SqlStore } from '../../src/store';
import { waitFor } from '../support/app';
import { reportSkippedPostgres, storeFactories } from '../support/stores';

reportSkippedPostgres('group commit');

/** An ETC sign-flow callback completing flow `id`. */
const callback = (id: string, status = '2') => JSON.stringify({ sign_end_time: '2026-11-23 10:00:00', sign_flow_status: status, sign_flow_id: id, sign_file_url: '' });

/** Makes every append of an event for flow `ETC:poison` fail inside the database, as a real constraint failure would. */
async function poison(store: SqlStore): Promise<() => Promise<void>> {
  if (store.dialect === 'sqlite') {
    await sql`create trigger poison before insert on events when new.subject_id = 'ETC:poison' begin select raise(abort, 'poisoned flow'); end`.execute(store.db);
    return async () => void (await sql`drop trigger poison`.execute(store.db));
  }
  await sql
    .raw(
      `create function poison() returns trigger language plpgsql as $$ begin if new.subject_id = 'ETC:poison' then raise exception 'poisoned flow'; end if; return new; end $$;
       create trigger poison before insert on events for each row execute function poison();`,
    )
    .execute(store.db);
  return async () => void (await sql.raw('drop trigger poison on events; drop function poison()').execute(store.db));
}

describe.each(storeFactories().map((f) => [f.name, f] as const))('group commit of callbacks (%s)', (_name, factory) => {
  let store: SqlStore;
  let notifier: Notifier;
  let feed: EventFeed;
  let recorder: FlowRecorder;
  let server: http.Server;
  let url: string;
  const batches: Array<{ size: number; outcome: string }> = [];

  beforeEach(async () => {
    batches.length = 0;
    store = await factory.open();
    notifier = await createNotifier();
    feed = new EventFeed(store, notifier);
    await feed.start();
    recorder = new FlowRecorder(store, feed, { onBatch: (size, outcome) => batches.push({ size, outcome }) });
    const app = express();
    app.post('/callbacks/etc', express.raw({ type: () => true }), etcCallbackHandler({ recorder, logger: silentLogger }));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callbacks/etc`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await feed.close();
    await notifier.close();
    await store.close();
  });
  afterAll(() => factory.cleanup());

  const post = async (body: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, code: ((await res.json()) as { response_code: string }).response_code };
  };
  const count = async (table: 'events' | 'flows' | 'callback_receipts') =>
    Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db)).rows[0]!.n);

  /**
   * Holds the event-log lock (and on SQLite the one connection) in another transaction while `bodies` are posted, so
   * that the first callback's batch waits for it and every later one queues behind: they are then written as one batch.
   */
  async function postJoined(first: string, bodies: string[]) {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = store.transaction(async (tx) => {
      await tx.events.lock();
      locked();
      await held;
    });
    await isLocked;
    const firstAnswer = post(first);
    // The first callback's batch is under way, alone, waiting for the lock.
    await waitFor(() => recorder.writingNow === 1 && recorder.waiting === 0, { what: 'first batch started' });
    const answers = Promise.all(bodies.map(post));
    await waitFor(() => recorder.waiting === bodies.length, { what: 'callbacks queued', timeoutMs: 15_000 });
    release();
    await holder;
    return { first: await firstAnswer, rest: await answers };
  }

  it('stores each callback of one batch exactly once, answers each after the commit, and dedupes retries and repeats', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `gc${i}`);
    // The same callback twice in one batch: stored once, both acknowledged.
    const bodies = [...ids.map((id) => callback(id)), callback('gc0')];
    const { first, rest } = await postJoined(callback('lead'), bodies);
    expect(first).toEqual({ status: 200, code: '000' });
    expect(rest.every((a) => a.status === 200 && a.code === '000')).toBe(true);
    expect(batches).toEqual([
      { size: 1, outcome: 'committed' },
      { size: bodies.length, outcome: 'committed' },
    ]);
    expect(await count('callback_receipts')).toBe(41);
    expect(await count('flows')).toBe(41);
    expect(await count('events')).toBe(41);
    const perFlow = await sql<{ subject_id: string; n: number }>`select subject_id, count(*) as n from events group by subject_id having count(*) > 1`.execute(store.db);
    expect(perFlow.rows).toEqual([]);
    // Every receipt points at its own event.
    const linked = await sql<{ n: number }>`select count(distinct event_id) as n from callback_receipts where event_id is not null`.execute(store.db);
    expect(Number(linked.rows[0]!.n)).toBe(41);
    // Event ids follow the order the callbacks were queued in (and the log has no gap).
    const events = await store.events.listAfter(0, {}, 100);
    expect(events.map((e) => e.subjectId)).toEqual(['ETC:lead', ...ids.map((id) => `ETC:${id}`)]);

    // The provider retries them all at once: acknowledged, nothing new stored.
    batches.length = 0;
    const retries = await Promise.all(bodies.map(post));
    expect(retries.every((a) => a.status === 200 && a.code === '000')).toBe(true);
    expect(await count('events')).toBe(41);
    expect(await count('callback_receipts')).toBe(41);
  });

  it('keeps each report of a batch answered with its own flow state when several move the same flow', async () => {
    const ref = { provider: 'ETC' as const, providerFlowId: 'same' };
    const [signing, completed, stale] = await Promise.all([
      recorder.record({ ref, status: 'SIGNING', providerStatus: '1', source: 'SYNC', fileUrl: 'http://file' }),
      recorder.record({ ref, status: 'COMPLETED', providerStatus: '2', source: 'CALLBACK' }),
      recorder.record({ ref, status: 'SIGNING', providerStatus: '1', source: 'SYNC' }),
    ]);
    expect(batches).toEqual([{ size: 3, outcome: 'committed' }]);
    expect(signing.flow).toMatchObject({ status: 'SIGNING', providerStatus: '1', fileUrl: 'http://file' });
    expect(completed.flow).toMatchObject({ status: 'COMPLETED', providerStatus: '2', fileUrl: 'http://file' });
    // A report that does not supersede the status changes nothing and appends no event.
    expect(stale.event).toBeUndefined();
    expect(stale.flow.status).toBe('COMPLETED');
    expect([signing.event?.status, completed.event?.status]).toEqual(['SIGNING', 'COMPLETED']);
    expect(completed.event!.id).toBeGreaterThan(signing.event!.id);
    expect((await store.flows.get('ETC:same'))!).toMatchObject({ status: 'COMPLETED', providerStatus: '2', fileUrl: 'http://file' });
  });

  it('answers every callback of a failed batch with an error and stores none of them; their retries are stored once', async () => {
    const cure = await poison(store);
    const bodies = [...Array.from({ length: 20 }, (_, i) => callback(`ok${i}`)), callback('poison')];
    const { first, rest } = await postJoined(callback('before'), bodies);
    expect(first).toEqual({ status: 200, code: '000' });
    // Every callback of the failed batch, the healthy ones included, is told to retry.
    expect(rest).toEqual(bodies.map(() => ({ status: 500, code: '500' })));
    expect(batches).toEqual([
      { size: 1, outcome: 'committed' },
      { size: bodies.length, outcome: 'failed' },
    ]);
    // Nothing of the failed batch was kept: no receipt (so the retry is not taken for a duplicate), flow or event.
    expect(await count('callback_receipts')).toBe(1);
    expect(await count('flows')).toBe(1);
    expect(await count('events')).toBe(1);

    // The provider retries after the cause is gone: each is stored exactly once.
    await cure();
    const retried = await Promise.all(bodies.map(post));
    expect(retried.every((a) => a.status === 200 && a.code === '000')).toBe(true);
    expect(await count('callback_receipts')).toBe(22);
    expect(await count('events')).toBe(22);
    const again = await Promise.all(bodies.map(post));
    expect(again.every((a) => a.code === '000')).toBe(true);
    expect(await count('events')).toBe(22);
  });

  it('writes nothing but the receipt for a report that leaves its flow as it is, and writes one that moves it', async () => {
    const report = (key: string, status: 'SIGNING' | 'COMPLETED', providerStatus: string) => ({
      ref: { provider: 'ETC' as const, providerFlowId: 'unchanged01' },
      status,
      providerStatus,
      source: 'CALLBACK' as const,
      receipt: { dedupeKey: key, body: '{}' },
    });
    const first = await recorder.record(report('k1', 'SIGNING', '1'));
    expect(first.event).toBeDefined();
    const before = await store.flows.get('ETC:unchanged01');
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The same status again, as a second delivery with its own message id: stored as a receipt, no event, no write.
    const again = await recorder.record(report('k2', 'SIGNING', '1'));
    expect(again).toMatchObject({ duplicate: false, event: undefined, flow: { status: 'SIGNING', updatedAt: before!.updatedAt } });
    expect(await store.flows.get('ETC:unchanged01')).toEqual(before);
    expect(await store.receipts.count('ETC')).toBe(2);
    // The same status with another provider status does not supersede it either: nothing written.
    await recorder.record(report('k3', 'SIGNING', '7'));
    expect(await store.flows.get('ETC:unchanged01')).toEqual(before);
    // A status that supersedes it is written, with a new updatedAt.
    const done = await recorder.record(report('k4', 'COMPLETED', '2'));
    expect(done.event).toMatchObject({ status: 'COMPLETED' });
    expect(await store.flows.get('ETC:unchanged01')).toMatchObject({ status: 'COMPLETED', providerStatus: '2' });
    expect((await store.flows.get('ETC:unchanged01'))!.updatedAt.getTime()).toBeGreaterThan(before!.updatedAt.getTime());
  });

  it('keeps a file link only when it is http(s), whichever way it came: a provider read goes through the same rule', async () => {
    await recorder.record(syncReport('ETC', { providerFlowId: 'linked', status: 'COMPLETED', providerStatus: '2', fileUrl: 'https://files.example/a.pdf' }));
    await recorder.record(syncReport('ETC', { providerFlowId: 'script', status: 'COMPLETED', providerStatus: '2', fileUrl: 'javascript:alert(1)' }));
    expect((await store.flows.get('ETC:linked'))!.fileUrl).toBe('https://files.example/a.pdf');
    expect((await store.flows.get('ETC:script'))!.fileUrl).toBeNull();
  });
});
