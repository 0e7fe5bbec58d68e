import { createPubSub, type PubSub, type PubSubEvent } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import Redis from 'ioredis';
import { silentLogger, type Logger } from '../logger';

/**
 * Wake-ups that say "the event log grew up to id N". They carry no event: the log is the truth, so a wake-up that
 * is lost (a replica died between its commit and its publish) only delays delivery until the next poll.
 */
export interface Notifier {
  publish(eventId: number): void;
  subscribe(listener: (eventId: number) => void): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

type Topics = { 'events:appended': [{ id: number }] };
const TOPIC = 'events:appended';

/** graphql-yoga's pub/sub, in process by default or across replicas over a Redis event target. */
class PubSubNotifier implements Notifier {
  private readonly stops = new Set<() => void>();

  constructor(
    private readonly pubSub: PubSub<Topics>,
    private readonly clients: Redis[] = [],
    private readonly logger: Logger = silentLogger,
  ) {}

  publish(eventId: number): void {
    try {
      this.pubSub.publish(TOPIC, { id: eventId });
    } catch (error) {
      // Pollers pick the event up anyway; a failed wake-up is never a lost event.
      this.logger.warn({ err: error }, 'event wake-up not published');
    }
  }

  subscribe(listener: (eventId: number) => void): () => void {
    const iterator = this.pubSub.subscribe(TOPIC)[Symbol.asyncIterator]();
    let stopped = false;
    const pump = async () => {
      while (!stopped) {
        const next = await iterator.next();
        if (next.done) return;
        listener(Number(next.value.id));
      }
    };
    pump().catch((error) => this.logger.warn({ err: error }, 'event wake-up subscription ended'));
    const stop = () => {
      stopped = true;
      void iterator.return?.();
      this.stops.delete(stop);
    };
    this.stops.add(stop);
    return stop;
  }

  async ping(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.ping()));
  }

  async close(): Promise<void> {
    for (const stop of [...this.stops]) stop();
    await Promise.all(this.clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

/**
 * In-process wake-ups, or with `redisUrl` wake-ups shared by every replica. With Redis it resolves once both
 * connections are ready, and rejects (naming the host, never the password) when Redis cannot be reached.
 */
export async function createNotifier(options: { redisUrl?: string; logger?: Logger } = {}): Promise<Notifier> {
  if (!options.redisUrl) return new PubSubNotifier(createPubSub<Topics>(), [], options.logger);
  // lazyConnect + connect() before the first SUBSCRIBE: ioredis 5 may send its handshake commands (CLIENT SETINFO,
  // the INFO ready check) after a SUBSCRIBE issued while connecting, which breaks the subscriber connection with
  // "Connection in subscriber mode" and leaves this replica deaf to the others (redis/ioredis#2037). On a later
  // reconnect ioredis re-subscribes only after the handshake, so the race exists at start-up alone.
  const settings = { maxRetriesPerRequest: 2, lazyConnect: true } as const;
  const publishClient = new Redis(options.redisUrl, settings);
  const subscribeClient = new Redis(options.redisUrl, settings);
  const clients = [publishClient, subscribeClient];
  // connect() may reject with a bare "Connection is closed."; the error event carries the cause (ECONNREFUSED, …).
  let cause: string | undefined;
  for (const client of clients) {
    client.on('error', (error: Error) => {
      cause ??= error.message;
      options.logger?.warn({ err: error.message }, 'redis connection error');
    });
  }
  try {
    await Promise.all(clients.map((client) => client.connect()));
  } catch (error) {
    clients.forEach((client) => client.disconnect());
    const { host, port } = publishClient.options;
    throw new Error(`REDIS_URL: cannot connect to Redis at ${host}:${port}: ${cause ?? (error as Error).message}`);
  }
  // The event target fires its PUBLISH/SUBSCRIBE/UNSUBSCRIBE commands without handling their promises; during a
  // Redis outage (or an UNSUBSCRIBE racing quit at shutdown) each rejection would be unhandled and end the process.
  // A wake-up that fails is only late (polling finds the event), so failures are logged instead.
  const settle = (command: string) => (error: Error) => options.logger?.warn({ err: error.message, command }, 'redis command failed');
  const publisher = { publish: (channel: string, message: string) => publishClient.publish(channel, message).catch(settle('PUBLISH')) };
  const subscriber = {
    on: (event: 'message', listener: (channel: string, message: string) => void) => subscribeClient.on(event, listener),
    subscribe: (channel: string) => subscribeClient.subscribe(channel).catch(settle('SUBSCRIBE')),
    unsubscribe: (channel: string) => subscribeClient.unsubscribe(channel).catch(settle('UNSUBSCRIBE')),
  };
  const eventTarget = createRedisEventTarget<PubSubEvent<Topics, typeof TOPIC>>({
    publishClient: publisher as unknown as Redis,
    subscribeClient: subscriber as unknown as Redis,
  });
  return new PubSubNotifier(createPubSub<Topics>({ eventTarget }), clients, options.logger);
}
