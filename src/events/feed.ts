import { silentLogger, type Logger } from '../logger';
import type { EventFilter, Store, StoredEvent } from '../store/types';
import type { Notifier } from './notifier';

export interface FeedOptions {
  /** Safety net for lost wake-ups: how often the log is read even when nobody said it grew. */
  pollIntervalMs?: number;
  /** Rows per read of the log. */
  batchSize?: number;
  /** A subscriber that falls this far behind is switched to reading the log itself, so memory stays bounded. */
  maxBuffered?: number;
  logger?: Logger;
  /** Sees each event once, as it is dispatched live (metrics: delivery lag); must not throw. */
  onDispatch?: (event: StoredEvent) => void;
}

interface Listener {
  filter: EventFilter;
  push(event: StoredEvent): void;
  /** Lets a waiting subscriber notice that the feed closed. */
  interrupt(): void;
}

export function matches(filter: EventFilter, event: StoredEvent): boolean {
  if (filter.kinds && filter.kinds.length > 0 && !filter.kinds.includes(event.kind)) return false;
  if (filter.subjectIds && filter.subjectIds.length > 0 && !filter.subjectIds.includes(event.subjectId)) return false;
  if (filter.provider && filter.provider !== event.provider) return false;
  // Live events are filtered by tenant here, as replays are by the store: another tenant's event never reaches the
  // subscription (not even as an error from its resolvers).
  if (filter.tenant && filter.tenant.tenant !== (event.tenant ?? null)) return false;
  return true;
}

/**
 * The process's one reader of the event log's tail. Committed events reach it through a wake-up (in-process or
 * Redis) or, failing that, through polling; it reads each new event once and hands it to every matching
 * subscriber in id order. Subscribers that resume from a cursor first replay from the log, then continue live,
 * with no gap and no duplicate at the seam.
 */
export class EventFeed {
  private cursor = 0;
  private readonly listeners = new Set<Listener>();
  private pumping = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly logger: Logger;
  private readonly onDispatch?: (event: StoredEvent) => void;
  private started = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    options: FeedOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.logger = options.logger ?? silentLogger;
    this.onDispatch = options.onDispatch;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.cursor = await this.store.events.latestId();
    this.unsubscribe = this.notifier.subscribe((id) => {
      if (id > this.cursor) this.wake();
    });
    this.timer = setInterval(() => this.wake(), this.pollIntervalMs);
    this.timer.unref();
  }

  /** Tells every replica (this one included) that the log grew. Call after the commit. */
  published(event: StoredEvent | number): void {
    this.notifier.publish(typeof event === 'number' ? event : event.id);
  }

  /** The newest event this process has dispatched: where a subscriber without a cursor starts. */
  get position(): number {
    return this.cursor;
  }

  wake(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const batch = await this.store.events.listAfter(this.cursor, {}, this.batchSize);
        // Dispatch is synchronous per batch, so a subscriber registering now sees the cursor before or after
        // the whole batch, never halfway through it.
        for (const event of batch) {
          this.cursor = event.id;
          this.onDispatch?.(event);
          for (const listener of this.listeners) if (matches(listener.filter, event)) listener.push(event);
        }
        if (batch.length < this.batchSize || this.closed) return;
      }
    } catch (error) {
      // The store is briefly unreachable (pool exhausted, failover): try again soon rather than waiting for the
      // next wake-up or poll, which may be far off.
      this.logger.warn({ err: error }, 'reading the event log failed; retrying in 500 ms');
      setTimeout(() => this.wake(), 500).unref();
    }
  }

  /**
   * Matching events in id order. With `after`, first every stored event with a larger id, then live ones.
   * Without it, only events committed from now on.
   */
  subscribe(filter: EventFilter, after?: number): AsyncGenerator<StoredEvent, void, undefined> {
    const stop = { requested: false, wake: () => undefined as void };
    const events = this.read(filter, after, stop);
    // A generator waiting for its next event acts on return() only at its next yield, which for a quiet filter may
    // never come: the subscriber that left would stay registered. Wake it so it returns now.
    const finish = events.return.bind(events);
    events.return = (value) => {
      stop.requested = true;
      stop.wake();
      return finish(value);
    };
    return events;
  }

  private async *read(filter: EventFilter, after: number | undefined, stop: { requested: boolean; wake: () => void }): AsyncGenerator<StoredEvent, void, undefined> {
    if (!this.started) await this.start();
    const buffer: StoredEvent[] = [];
    let overflowed = false;
    let notify: (() => void) | undefined;
    const listener: Listener = {
      filter,
      push: (event) => {
        if (overflowed) return;
        if (buffer.length >= this.maxBuffered) {
          // Too far behind: drop the buffer and catch up from the log, which has everything.
          overflowed = true;
          buffer.length = 0;
        } else {
          buffer.push(event);
        }
        notify?.();
      },
      interrupt: () => notify?.(),
    };
    stop.wake = listener.interrupt;
    // Registered before anything is read, so nothing committed from here on can fall between replay and live.
    this.listeners.add(listener);
    let last = after ?? this.cursor;
    let replay = after !== undefined;
    try {
      for (;;) {
        if (replay || overflowed) {
          overflowed = false;
          replay = false;
          for (;;) {
            const batch = await this.store.events.listAfter(last, filter, this.batchSize);
            for (const event of batch) {
              last = event.id;
              yield event;
            }
            if (batch.length < this.batchSize) break;
          }
          continue;
        }
        const event = buffer.shift();
        if (event) {
          if (event.id <= last) continue;
          last = event.id;
          yield event;
          continue;
        }
        if (this.closed || stop.requested) return;
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
        notify = undefined;
      }
    } finally {
      this.listeners.delete(listener);
    }
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    for (const listener of this.listeners) listener.interrupt();
  }
}
