import { AsyncResource } from 'node:async_hooks';
import { context, isSpanContextValid, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type SpanContext } from '@opentelemetry/api';
import type { EventSource, FlowRef, SignFlowStatus, SignProvider } from '../domain/model';
import { flowId, supersedes } from '../domain/model';
import type { EventFeed } from '../events/feed';
import { tracer } from '../observability/tracing';
import type { ProviderFlowSnapshot } from '../providers/types';
import { providerLink } from '../security/urls';
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

/** What a provider read says of a flow now, as a report (source SYNC) for the recorder. */
export function syncReport(provider: SignProvider, snapshot: ProviderFlowSnapshot, extra: Pick<StatusReport, 'tenant' | 'actor'> = {}): StatusReport {
  return {
    ref: { provider, providerFlowId: snapshot.providerFlowId },
    status: snapshot.status,
    providerStatus: snapshot.providerStatus,
    source: 'SYNC',
    fileUrl: snapshot.fileUrl,
    endedAt: snapshot.endedAt,
    data: snapshot.data,
    ...extra,
  };
}

export interface RecordResult {
  /** The same callback was already received: nothing was written. */
  duplicate: boolean;
  flow: Flow;
  /** The event appended, when the report changed the flow's status (or first made it known). */
  event?: StoredEvent;
}

/** Group-commit tuning; the defaults suit production. */
export interface RecorderOptions {
  /** Most reports written by one transaction; more wait for the next one. */
  maxBatch?: number;
  /** Sees the size of each batch as it commits (or fails); metrics and tests. Must not throw. */
  onBatch?: (size: number, outcome: 'committed' | 'failed') => void;
}

interface Pending {
  report: StatusReport;
  /** The trace context of the request that made the report: the batch's span is its child or links to it. */
  trace: Context;
  /** The caller's async context (request id, trace): its batch runs in the context of its first report. */
  scope: AsyncResource;
  resolve(result: RecordResult): void;
  reject(error: unknown): void;
}

/** What a flow looks like after some of a batch's reports: what `save` would have left, one report at a time. */
interface Draft {
  write: FlowWrite;
  /** The stored row when the batch began; undefined when the batch creates the flow. */
  before?: Flow;
}

/**
 * Writes status reports: the receipt, the flow and its event in one transaction, then wakes subscribers. Every
 * path that learns a status (callbacks, mutations, read-through) goes through here, so the event log stays the
 * single truth subscriptions replay from.
 *
 * Group commit: reports that arrive while a transaction is being written wait, then are written together by the
 * next one (one transaction, one turn of the event-log lock, a few multi-row statements), and each caller is
 * answered when that transaction commits. When it fails, every report in it fails and none is stored, so each
 * callback is answered with an error and its provider retries. One report alone is written at once; under load the
 * batches grow by themselves, without any added delay.
 */
export class FlowRecorder {
  private queue: Pending[] = [];
  private writing = false;
  private current = 0;
  private readonly maxBatch: number;
  private readonly onBatch?: RecorderOptions['onBatch'];

  constructor(
    private readonly store: Store,
    private readonly feed: Pick<EventFeed, 'published'>,
    options: RecorderOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.onBatch = options.onBatch;
  }

  /**
   * Many reports without receipts (a batch's outcomes) inside the caller's transaction `tx`: one read of the flows,
   * then the same rules as {@link record} for each. Returns the events appended; the caller publishes the last one
   * after its commit (one wake-up for the whole batch).
   */
  async recordManyIn(tx: Store, reports: readonly StatusReport[]): Promise<StoredEvent[]> {
    if (reports.length === 0) return [];
    const { events } = await this.writeIn(tx, reports.map((report) => ({ report, fresh: true })));
    return events.filter((e): e is StoredEvent => e !== undefined);
  }

  /** Reports queued for the next batch (not yet being written). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Reports in the batch being written now. */
  get writingNow(): number {
    return this.current;
  }

  /** Stores one report, durably: resolves once the transaction holding it has committed. */
  record(report: StatusReport): Promise<RecordResult> {
    return new Promise<RecordResult>((resolve, reject) => {
      this.queue.push({ report, trace: context.active(), resolve, reject, scope: new AsyncResource('FlowRecorder.record') });
      if (!this.writing) {
        this.writing = true;
        // After this turn of the event loop: every request read in the same turn joins the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.current = batch.length;
      // Its statements and wake-up are traced and logged as part of the first report's request.
      await (batch[0] as Pending).scope.runInAsyncScope(() => this.commit(batch));
      this.current = 0;
      // Let requests that arrived during the commit be read before the next batch starts, so they join it.
      if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.writing = false;
  }

  /**
   * One transaction for the batch, traced as one span: a child of the first report's request, linked to the
   * others' (a batch serves many traces, and a span has one parent).
   */
  private async commit(batch: Pending[]): Promise<void> {
    const links = batch
      .slice(1)
      .map((pending) => trace.getSpanContext(pending.trace))
      .filter((spanContext): spanContext is SpanContext => spanContext !== undefined && isSpanContextValid(spanContext))
      .map((spanContext) => ({ context: spanContext }));
    const parent = batch[0]?.trace ?? ROOT_CONTEXT;
    const span = tracer().startSpan('recorder.commit', { attributes: { 'recorder.batch_size': batch.length }, links }, parent);
    await context.with(trace.setSpan(parent, span), async () => {
      let results: RecordResult[];
      try {
        const run = () => this.store.transaction((tx) => this.recordIn(tx, batch.map((p) => p.report)));
        // PostgreSQL aborts one side of a deadlock (or a serialization conflict); nothing of it was stored, so it is
        // run once more before its callers are told to retry.
        results = await run().catch((error: unknown) => (isConflict(error) ? run() : Promise.reject(error)));
      } catch (error) {
        this.onBatch?.(batch.length, 'failed');
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
        span.end();
        for (const pending of batch) pending.reject(error);
        return;
      }
      this.onBatch?.(batch.length, 'committed');
      let last: StoredEvent | undefined;
      for (const result of results) if (result.event && (!last || result.event.id > last.id)) last = result.event;
      // One wake-up for the batch: the feed reads every event up to the newest.
      if (last) this.feed.published(last);
      span.end();
      batch.forEach((pending, i) => pending.resolve(results[i] as RecordResult));
    });
  }

  /** The reports of one batch, in order, inside `tx`: receipts, then under the log lock the flows and events. */
  private async recordIn(tx: Store, reports: readonly StatusReport[]): Promise<RecordResult[]> {
    // Receipts first: a report whose receipt was already there (a provider's retry, or the same callback twice in
    // this batch) changes nothing when its flow exists.
    const receipted = reports.filter((r) => r.receipt);
    // In key order: two replicas inserting overlapping batches (a provider retrying on another replica) then lock
    // the same rows in the same order and wait for each other instead of deadlocking.
    const rows = receipted.map((r) => ({ provider: r.ref.provider, dedupeKey: r.receipt!.dedupeKey, body: r.receipt!.body }));
    rows.sort((a, b) => (a.provider === b.provider ? compare(a.dedupeKey, b.dedupeKey) : compare(a.provider, b.provider)));
    const fresh = rows.length > 0 ? await tx.receipts.insertMany(rows) : new Set<string>();
    const claimed = new Set<string>();
    const items = reports.map((report) => {
      if (!report.receipt) return { report, fresh: true };
      const key = `${report.ref.provider}|${report.receipt.dedupeKey}`;
      const first = fresh.has(key) && !claimed.has(key);
      claimed.add(key);
      return { report, fresh: first };
    });
    const { flows, events } = await this.writeIn(tx, items);
    const links = reports.flatMap((r, i) => (r.receipt && events[i] ? [{ provider: r.ref.provider, dedupeKey: r.receipt.dedupeKey, eventId: (events[i] as StoredEvent).id }] : []));
    if (links.length > 0) await tx.receipts.linkEvents(links);
    return reports.map((_, i) => ({ duplicate: flows[i]!.duplicate, flow: flows[i]!.flow, event: events[i] }));
  }

  /**
   * The rules of one report at a time, written with one read and one write of the flows and one append: a report
   * changes a flow's status only when it supersedes it, and appends an event only then. A report that is not
   * `fresh` (its receipt was already stored) is a duplicate when its flow exists, and changes nothing.
   */
  private async writeIn(
    tx: Store,
    items: readonly { report: StatusReport; fresh: boolean }[],
  ): Promise<{ flows: { duplicate: boolean; flow: Flow }[]; events: (StoredEvent | undefined)[] }> {
    // Log lock before any flow row lock: see EventRepository.lock.
    await tx.events.lock();
    const ids = [...new Set(items.map((item) => flowId(item.report.ref)))];
    // One flow (a report alone, the common case when quiet): the plain primary-key read.
    const only = ids.length === 1 ? await tx.flows.get(ids[0] as string) : undefined;
    const current = ids.length === 1 ? new Map(only ? [[only.id, only]] : []) : await tx.flows.getMany(ids);
    const drafts = new Map<string, Draft>();
    const snapshots: { duplicate: boolean; draft: Draft; write: FlowWrite }[] = [];
    const appended: { index: number; event: NewEvent }[] = [];
    items.forEach(({ report, fresh }, index) => {
      const id = flowId(report.ref);
      let draft = drafts.get(id);
      const existing = draft?.write ?? current.get(id);
      if (!fresh && existing && draft === undefined) {
        // A retry of a callback stored before: answered with the flow as it is.
        const before = current.get(id) as Flow;
        const kept: Draft = { write: { ...before }, before };
        snapshots.push({ duplicate: true, draft: kept, write: kept.write });
        return;
      }
      if (!fresh && draft) {
        snapshots.push({ duplicate: true, draft, write: { ...draft.write } });
        return;
      }
      const changes = !existing || supersedes(existing.status, report.status);
      if (!draft) {
        const before = current.get(id);
        draft = { before, write: before ? { ...before } : { id, provider: report.ref.provider, providerFlowId: report.ref.providerFlowId, status: report.status, tenant: report.tenant } };
        drafts.set(id, draft);
      }
      // What `save` does: status as decided, the other fields overwritten only by values given.
      const w = draft.write;
      if (changes) {
        w.status = report.status;
        w.providerStatus = report.providerStatus ?? w.providerStatus;
        w.endedAt = report.endedAt ?? w.endedAt;
      }
      // A link clients render: only http(s), whichever way it came (callback or provider read).
      w.fileUrl = providerLink(report.fileUrl) ?? w.fileUrl;
      w.data = report.data ?? w.data;
      snapshots.push({ duplicate: false, draft, write: { ...w } });
      if (!changes) return;
      appended.push({
        index,
        event: {
          actor: report.actor ?? null,
          kind: 'signflow',
          subjectId: id,
          provider: report.ref.provider,
          status: report.status,
          providerStatus: report.providerStatus,
          source: report.source,
          occurredAt: report.occurredAt ?? null,
          data: null,
        },
      });
    });
    // A flow the batch leaves as it was (a report of the status it already has, such as the per-flow callbacks that
    // follow a batch-cancel result) is not written again: its receipt is all the report stores.
    const writes = [...drafts.values()].filter((d) => !d.before || !unchanged(d.before, d.write)).map((d) => d.write);
    const saved = new Map((writes.length > 0 ? await tx.flows.saveMany(writes) : []).map((f) => [f.id, f]));
    const stored = await tx.events.appendMany(appended.map((a) => a.event));
    const events: (StoredEvent | undefined)[] = items.map(() => undefined);
    appended.forEach((a, i) => (events[a.index] = stored[i]));
    // Each report answers with its flow as of that report (a later report in the batch may move it further).
    const flows = snapshots.map(({ duplicate, draft, write }) => {
      const row = saved.get(write.id) ?? draft.before;
      return { duplicate, flow: { ...(row as Flow), ...pick(write) } };
    });
    return { flows, events };
  }
}

/** PostgreSQL `deadlock_detected` or `serialization_failure`: the transaction was rolled back and may be run again. */
function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The fields a report sets, as a partial Flow. */
/** Whether `write` would store exactly what `before` holds (updatedAt aside). */
function unchanged(before: Flow, write: FlowWrite): boolean {
  const a = pick(before);
  const b = pick(write);
  return (
    a.status === b.status &&
    a.providerStatus === b.providerStatus &&
    a.fileUrl === b.fileUrl &&
    (a.endedAt?.getTime() ?? null) === (b.endedAt?.getTime() ?? null) &&
    JSON.stringify(a.data) === JSON.stringify(b.data)
  );
}

function pick(w: FlowWrite): Pick<Flow, 'status' | 'providerStatus' | 'fileUrl' | 'endedAt' | 'data'> {
  return { status: w.status, providerStatus: w.providerStatus ?? null, fileUrl: w.fileUrl ?? null, endedAt: w.endedAt ?? null, data: w.data ?? null };
}
