import pino from 'pino';
import { EventFeed } from '../../src/events/feed';
import { createNotifier, type Notifier } from '../../src/events/notifier';
import type { SqlStore } from '../../src/store';
import type { StoredEvent } from '../../src/store/types';
import { waitFor } from '../support/app';
import { sqliteFactory } from '../support/stores';

async function append(store: SqlStore, feed: EventFeed, subjectId: string): Promise<StoredEvent> {
  const event = await store.transaction((tx) =>
    tx.events.append({ kind: 'signflow', subjectId, provider: 'ETC', status: 'COMPLETED', providerStatus: '2', source: 'CALLBACK', occurredAt: null, data: null }),
  );
  feed.published(event);
  return event;
}

async function take(iterator: AsyncGenerator<StoredEvent>, n: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('EventFeed', () => {
  let store: SqlStore;
  let notifier: Notifier;
  let feed: EventFeed;
  beforeEach(async () => {
    store = await sqliteFactory().open();
    notifier = await createNotifier();
    feed = new EventFeed(store, notifier, { pollIntervalMs: 60_000, batchSize: 7, maxBuffered: 5 });
    await feed.start();
  });
  afterEach(async () => {
    await feed.close();
    await notifier.close();
    await store.close();
  });

  it('delivers live events in id order, filtered', async () => {
    const sub = feed.subscribe({ subjectIds: ['ETC:a'] });
    const pending = take(sub, 2);
    await waitFor(() => feed.subscriberCount === 1);
    await append(store, feed, 'ETC:a');
    await append(store, feed, 'ETC:b');
    await append(store, feed, 'ETC:a');
    const got = await pending;
    expect(got.map((e) => e.subjectId)).toEqual(['ETC:a', 'ETC:a']);
    expect(got[0].id).toBeLessThan(got[1].id);
    await sub.return(undefined);
    expect(feed.subscriberCount).toBe(0);
  });

  it('replays after a cursor across several batches, then continues live with no gap and no duplicate', async () => {
    const first = await append(store, feed, 'ETC:x');
    for (let i = 0; i < 20; i++) await append(store, feed, 'ETC:x');
    const sub = feed.subscribe({}, first.id);
    // Events keep arriving while the replay runs: the seam must neither drop nor repeat any.
    const writer = (async () => {
      for (let i = 0; i < 15; i++) await append(store, feed, 'ETC:y');
    })();
    const got = await take(sub, 35);
    await writer;
    const ids = got.map((e) => e.id);
    expect(ids).toEqual(Array.from({ length: 35 }, (_, i) => first.id + 1 + i));
    await sub.return(undefined);
  });

  it('a subscriber that falls far behind catches up from the log instead of buffering without bound', async () => {
    const sub = feed.subscribe({});
    const head = take(sub, 1);
    await waitFor(() => feed.subscriberCount === 1);
    const events: StoredEvent[] = [];
    events.push(await append(store, feed, 'ETC:z'));
    await head;
    // Not reading while 30 events arrive (buffer limit 5).
    for (let i = 0; i < 30; i++) events.push(await append(store, feed, 'ETC:z'));
    await waitFor(async () => (await store.events.latestId()) === events[30].id);
    await new Promise((r) => setImmediate(r));
    const rest = await take(sub, 30);
    expect(rest.map((e) => e.id)).toEqual(events.slice(1).map((e) => e.id));
    await sub.return(undefined);
  });

  it('finds events whose wake-up was lost by polling the log', async () => {
    const polling = new EventFeed(store, notifier, { pollIntervalMs: 30 });
    await polling.start();
    const sub = polling.subscribe({});
    const pending = take(sub, 1);
    await waitFor(() => polling.subscriberCount === 1);
    // Committed without any publish, as when a replica dies between commit and publish.
    await store.transaction((tx) =>
      tx.events.append({ kind: 'signflow', subjectId: 'ETC:lost', provider: 'ETC', status: 'EXPIRED', providerStatus: '5', source: 'CALLBACK', occurredAt: null, data: null }),
    );
    expect((await pending)[0].subjectId).toBe('ETC:lost');
    await sub.return(undefined);
    await polling.close();
  });
});

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) process.stdout.write('[redis notifier] skipped: TEST_REDIS_URL is not set\n');
(REDIS ? describe : describe.skip)('Redis wake-ups', () => {
  it('a publish on one notifier reaches another connected to the same Redis', async () => {
    const a = await createNotifier({ redisUrl: REDIS });
    const b = await createNotifier({ redisUrl: REDIS });
    const seen: number[] = [];
    const stop = b.subscribe((id) => seen.push(id));
    try {
      await b.ping();
      const marker = 900_000_000 + Math.floor(Math.random() * 1_000_000);
      await waitFor(() => {
        a.publish(marker);
        return seen.includes(marker);
      }, { intervalMs: 100, what: 'the wake-up through Redis' });
    } finally {
      stop();
      await a.close();
      await b.close();
    }
  });

  // ioredis 5 can send its handshake commands after a SUBSCRIBE issued while the connection is still being set up,
  // which leaves the subscriber connection broken with "Connection in subscriber mode" (redis/ioredis#2037). A
  // replica that starts this way never hears another replica's wake-ups, so every fresh notifier is checked here.
  it('a notifier subscribed right after it is created hears wake-ups, every time', async () => {
    const a = await createNotifier({ redisUrl: REDIS });
    try {
      for (let round = 0; round < 25; round++) {
        const errors: unknown[] = [];
        const b = await createNotifier({ redisUrl: REDIS, logger: pino({ level: 'warn' }, { write: (line: string) => errors.push(JSON.parse(line).err ?? line) }) });
        await new Promise((resolve) => setTimeout(resolve, round % 5));
        const seen: number[] = [];
        const stop = b.subscribe((id) => seen.push(id));
        try {
          const marker = 800_000_000 + round;
          await waitFor(() => {
            a.publish(marker);
            return seen.includes(marker);
          }, { intervalMs: 20, timeoutMs: 3_000, what: `the wake-up through Redis in round ${round}` });
          expect(errors).toEqual([]);
        } finally {
          stop();
          await b.close();
        }
      }
    } finally {
      await a.close();
    }
  }, 90_000);
});

describe('createNotifier', () => {
  it('refuses to start when Redis cannot be reached, naming the host and never the password', async () => {
    const attempt = createNotifier({ redisUrl: 'redis://:hunter2-secret@127.0.0.1:1' });
    await expect(attempt).rejects.toThrow(/^REDIS_URL: cannot connect to Redis at 127\.0\.0\.1:1: connect ECONNREFUSED/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });
});
