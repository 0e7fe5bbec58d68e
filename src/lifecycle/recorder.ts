import type { EventSource, FlowRef, SignFlowStatus } from '../domain/model';
import { flowId, supersedes } from '../domain/model';
import type { EventFeed } from '../events/feed';
import type { Flow, FlowWrite, NewEvent, Store, StoredEvent } from '../store/types';

/** A statement about a flow's status from any source: a callback, our own mutation, or a read from the provider. */
export interface StatusReport {
  ref: FlowRef;
  status: SignFlowStatus;
  providerStatus: string | null;
  source: EventSource;
  /** When the provider says it happened. */
  occurredAt?: Date | null;
  fileUrl?: string | null;
  endedAt?: Date | null;
  data?: Record<string, unknown> | null;
  /** For callbacks: the dedupe identity of this delivery and its raw body. */
  receipt?: { dedupeKey: string; body: string };
  /** The tenant a flow this report creates belongs to (an existing flow keeps its own). */
  tenant?: string | null;
  /** `sub` of the caller whose mutation this report records. */
  actor?: string | null;
}

export interface RecordResult {
  /** The same callback was already received: nothing was written. */
  duplicate: boolean;
  flow: Flow;
  /** The event appended, when the report changed the flow's status (or first made it known). */
  event?: StoredEvent;
}

/**
 * Writes status reports: the receipt, the flow and its event in one transaction, then wakes subscribers. Every
 * path that learns a status (callbacks, mutations, read-through) goes through here, so the event log stays the
 * single truth subscriptions replay from.
 */
export class FlowRecorder {
  constructor(
    private readonly store: Store,
    private readonly feed: Pick<EventFeed, 'published'>,
  ) {}

  /**
   * Many reports without receipts (a batch's outcomes) inside the caller's transaction `tx`: one read of the flows,
   * then the same rules as {@link record} for each. Returns the events appended; the caller publishes the last one
   * after its commit (one wake-up for the whole batch).
   */
  async recordManyIn(tx: Store, reports: readonly StatusReport[]): Promise<StoredEvent[]> {
    if (reports.length === 0) return [];
    // Log lock before any flow row lock: see EventRepository.lock.
    await tx.events.lock();
    const current = await tx.flows.getMany(reports.map((r) => flowId(r.ref)));
    const writes = new Map<string, FlowWrite>();
    const events: NewEvent[] = [];
    for (const report of reports) {
      const id = flowId(report.ref);
      const before = writes.get(id) ?? current.get(id);
      const changes = !before || supersedes(before.status, report.status);
      writes.set(id, {
        id,
        provider: report.ref.provider,
        providerFlowId: report.ref.providerFlowId,
        status: changes ? report.status : (before as FlowWrite).status,
        providerStatus: changes ? report.providerStatus : undefined,
        fileUrl: report.fileUrl,
        endedAt: changes ? report.endedAt : undefined,
        data: report.data,
        tenant: report.tenant,
      });
      if (!changes) continue;
      events.push({
        actor: report.actor ?? null,
        kind: 'signflow',
        subjectId: id,
        provider: report.ref.provider,
        status: report.status,
        providerStatus: report.providerStatus,
        source: report.source,
        occurredAt: report.occurredAt ?? null,
        data: null,
      });
    }
    await tx.flows.saveMany([...writes.values()]);
    return tx.events.appendMany(events);
  }

  async record(report: StatusReport): Promise<RecordResult> {
    const id = flowId(report.ref);
    const result = await this.store.transaction(async (tx): Promise<RecordResult> => {
      const provider = report.ref.provider;
      // The receipt first, outside the log lock: a provider's retry is answered without waiting for other writers.
      // (Only a retry of this very callback contends for its key, and it takes the same path.)
      if (report.receipt) {
        const fresh = await tx.receipts.insert({ provider, dedupeKey: report.receipt.dedupeKey, body: report.receipt.body });
        if (!fresh) {
          const flow = await tx.flows.get(id);
          if (flow) return { duplicate: true, flow };
        }
      }
      // Log lock before the flow's row lock: a batch writer (a cancel task's result) holds the log lock while it
      // locks many flow rows, so taking them in the other order could deadlock. See EventRepository.lock.
      await tx.events.lock();
      const current = await tx.flows.get(id);
      const changes = !current || supersedes(current.status, report.status);
      const flow = await tx.flows.save({
        id,
        provider,
        providerFlowId: report.ref.providerFlowId,
        status: changes ? report.status : (current as Flow).status,
        providerStatus: changes ? report.providerStatus : undefined,
        fileUrl: report.fileUrl,
        endedAt: changes ? report.endedAt : undefined,
        data: report.data,
        tenant: report.tenant,
      });
      if (!changes) return { duplicate: false, flow };
      const event = await tx.events.append({
        actor: report.actor ?? null,
        kind: 'signflow',
        subjectId: id,
        provider,
        status: report.status,
        providerStatus: report.providerStatus,
        source: report.source,
        occurredAt: report.occurredAt ?? null,
        data: null,
      });
      if (report.receipt) await tx.receipts.linkEvent(provider, report.receipt.dedupeKey, event.id);
      return { duplicate: false, flow, event };
    });
    if (result.event) this.feed.published(result.event);
    return result;
  }
}
