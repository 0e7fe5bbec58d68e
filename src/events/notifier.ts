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

export function createNotifier(options: { redisUrl?: string; logger?: Logger } = {}): Notifier {
  if (!options.redisUrl) return new PubSubNotifier(createPubSub<Topics>(), [], options.logger);
  const publishClient = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
  const subscribeClient = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
  for (const client of [publishClient, subscribeClient]) {
    client.on('error', (error) => options.logger?.warn({ err: error.message }, 'redis connection error'));
  }
  const eventTarget = createRedisEventTarget<PubSubEvent<Topics, typeof TOPIC>>({ publishClient, subscribeClient });
  return new PubSubNotifier(createPubSub<Topics>({ eventTarget }), [publishClient, subscribeClient], options.logger);
}
