import { supersedes, type SignFlowStatus, type SignProvider } from '../domain/model';
import type { RescissionService } from '../lifecycle/rescission';
import { syncReport, type FlowRecorder } from '../lifecycle/recorder';
import { silentLogger, type Logger } from '../logger';
import type { ReconcileObserver } from '../observability/metrics';
import { RateLimitAbortedError, type RateLimiter } from '../providers/rate-limit';
import type { ProviderRegistry } from '../providers/registry';
import type { ProviderFlowSnapshot, SignFlowProvider } from '../providers/types';
import type { Due, ReconcileKind } from '../store/reconcile';
import type { Store } from '../store/types';
import { chunk } from '../util/arrays';
import { backoffDelay } from './backoff';
import type { Lease } from './lease';

/** Statuses in which a flow still waits for news from its provider. */
const OPEN_STATUSES: readonly SignFlowStatus[] = ['DRAFT', 'SIGNING'];
/** The rescission agreement's flow ended unsigned: the rescission FAILED. */
const AGREEMENT_FAILED: ReadonlySet<SignFlowStatus> = new Set(['REVOKED', 'EXPIRED', 'REJECTED']);

export interface ReconcilerOptions {
  /** How often a tick runs (`RECONCILE_INTERVAL_MS`); 0 never starts the timer (`runOnce` still works). */
  intervalMs: number;
  /** A record not updated for this long is read again (`RECONCILE_AFTER_MS`); also the spacing of its later reads. */
  afterMs: number;
  /** Records read per provider and kind in one tick; the rest wait for the next. */
  perRunLimit?: number;
  /** Backoff after a failed read: `baseMs` doubling up to `maxMs` (defaults: the interval, and 6 hours). */
  backoff?: { baseMs?: number; maxMs?: number };
  logger?: Logger;
  observer?: ReconcileObserver;
  now?: () => number;
}

export interface ReconcilerDeps {
  store: Store;
  providers: ProviderRegistry;
  recorder: FlowRecorder;
  /** For rescissions (e签宝); absent when e签宝 is not configured. */
  rescissions?: RescissionService;
  /** Held by the one replica that reconciles. */
  lease: Lease;
  /** The budget reconciliation reads spend (`reconcile:<provider>` buckets), shared through Redis when configured. */
  limiter: RateLimiter;
}

/** What one tick did; tests and logs read it. */
export interface ReconcileReport {
  ran: boolean;
  read: number;
  changed: number;
  failed: number;
}

/**
 * Reads flows (and rescissions) that are still open but have heard nothing for `afterMs` again from their provider,
 * so a callback the provider gave up on (its retries all landed on a replica that was down) cannot leave a flow open
 * forever. One replica at a time (a lease), in the provider's batch sizes, within a rate budget; a change is recorded
 * through the same recorder as a callback, with source SYNC, so subscribers see it once and a late callback for the
 * same change is ignored. A record whose read fails waits exponentially longer before the next one.
 */
export class Reconciler {
  private readonly logger: Logger;
  private readonly perRunLimit: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<ReconcileReport>;
  private closed = false;
  /** Ends waits for the read budget when the process shuts down. */
  private readonly stopping = new AbortController();
  /** Runs this process did and ticks it skipped (another replica held the lease). */
  readonly stats = { runs: 0, skipped: 0 };

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.perRunLimit = options.perRunLimit ?? 1000;
    this.baseMs = options.backoff?.baseMs ?? Math.max(options.intervalMs, 1000);
    this.maxMs = options.backoff?.maxMs ?? 6 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  /** Long enough to outlive a tick between renewals; a dead holder is replaced after this. */
  private get leaseTtlMs(): number {
    return Math.max(3 * this.options.intervalMs, 5_000);
  }

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer || this.closed) return;
    const tick = () => {
      if (this.closed || this.running) return;
      void this.runOnce().catch((error: unknown) => this.logger.warn({ err: error }, 'reconciliation tick failed'));
    };
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
    tick();
  }

  /** One tick: take (or renew) the lease, then read what is due. Concurrent calls share the tick in progress. */
  runOnce(): Promise<ReconcileReport> {
    this.running ??= this.tick().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async tick(): Promise<ReconcileReport> {
    const report: ReconcileReport = { ran: false, read: 0, changed: 0, failed: 0 };
    if (this.closed) return report;
    let held: boolean;
    try {
      held = await this.deps.lease.acquire(this.leaseTtlMs);
    } catch (error) {
      // The lease's store or Redis is unreachable: nobody can tell who holds it, so nothing runs here.
      this.options.observer?.reconcileRun('failed');
      throw error;
    }
    if (!held) {
      this.stats.skipped++;
      this.options.observer?.reconcileRun('skipped');
      return report;
    }
    report.ran = true;
    this.stats.runs++;
    try {
      await this.readAll(report);
      this.options.observer?.reconcileRun('completed');
      if (report.read > 0) this.logger.info({ read: report.read, changed: report.changed, failed: report.failed }, 'reconciliation run');
      return report;
    } catch (error) {
      // Shutting down while waiting for the budget: what was read is recorded, the rest waits for another replica.
      if (error instanceof RateLimitAbortedError) return report;
      this.options.observer?.reconcileRun('failed');
      throw error;
    }
  }

  private async readAll(report: ReconcileReport): Promise<void> {
    for (const provider of ['ETC', 'TENCENT_ESS', 'ESIGN'] as const satisfies readonly SignProvider[]) {
      if (this.closed) return;
      if (this.deps.providers.has(provider)) await this.flows(this.deps.providers.get(provider), report);
    }
    if (this.deps.rescissions && this.deps.providers.has('ESIGN') && !this.closed) await this.rescissions(this.deps.providers.get('ESIGN'), report);
  }

  /** Keeps the lease while a long tick runs; false when it was lost (this replica stops, the other continues). */
  private async stillHeld(): Promise<boolean> {
    if (this.closed) return false;
    const held = await this.deps.lease.acquire(this.leaseTtlMs);
    if (!held) this.logger.warn('reconciliation lease lost mid-run; another replica continues');
    return held;
  }

  private async failure(kind: ReconcileKind, due: Due<{ id: string }>, error: string): Promise<void> {
    const attempts = due.attempts + 1;
    const next = new Date(this.now() + backoffDelay(attempts, this.baseMs, this.maxMs));
    await this.deps.store.reconcile.failed(kind, due.record.id, attempts, next, error);
  }

  /** Waits for the budget of `calls` reads at `provider` (a batch provider reads a whole batch in one call). */
  private async budget(provider: SignFlowProvider, batch: number): Promise<void> {
    const calls = provider.batchedFetch ? 1 : batch;
    await this.deps.limiter.acquire(`reconcile:${provider.provider}`, calls, this.stopping.signal);
  }

  private async flows(provider: SignFlowProvider, report: ReconcileReport): Promise<void> {
    const now = this.now();
    const due = await this.deps.store.reconcile.dueFlows({
      provider: provider.provider,
      statuses: OPEN_STATUSES,
      updatedBefore: new Date(now - this.options.afterMs),
      now: new Date(now),
      limit: this.perRunLimit,
    });
    await this.readInBatches('signflow', provider, due, report, {
      providerId: (flow) => flow.providerFlowId,
      unknown: `${provider.provider} does not know the flow`,
      apply: async (flow, snapshot) => {
        if (!supersedes(flow.status, snapshot.status)) return 'unchanged';
        // The callback's path: one transaction under the log lock, so a callback racing this read cannot add a
        // second event for the same change (whichever commits second finds nothing to change).
        const { event } = await this.deps.recorder.record(syncReport(provider.provider, snapshot));
        if (provider.provider === 'ESIGN' && this.deps.rescissions) {
          // A rescission agreement that ended unsigned ends its rescission, as its callback would have.
          await this.deps.rescissions.agreementEnded(flow.providerFlowId, snapshot.status, `SYNC:${snapshot.providerStatus}`, snapshot.endedAt ?? null, 'SYNC');
        }
        // No event: the provider's callback recorded the same change a moment earlier (it counts as unchanged).
        return event ? 'changed' : 'settled';
      },
    });
  }

  /**
   * INITIATED rescissions: their agreement's own flow at e签宝 says how they ended (signed: RESCINDED; revoked,
   * rejected or expired: FAILED).
   */
  private async rescissions(provider: SignFlowProvider, report: ReconcileReport): Promise<void> {
    const service = this.deps.rescissions as RescissionService;
    const now = this.now();
    const due = await this.deps.store.reconcile.dueRescissions({
      updatedBefore: new Date(now - this.options.afterMs),
      now: new Date(now),
      limit: this.perRunLimit,
    });
    await this.readInBatches('rescission', provider, due, report, {
      providerId: (rescission) => rescission.rescissionFlowId,
      unknown: 'e签宝 does not know the rescission agreement',
      apply: async (rescission, snapshot) => {
        if (snapshot.status === 'COMPLETED') {
          const signFlow = { provider: 'ESIGN' as const, providerFlowId: rescission.signFlowId.slice('ESIGN:'.length) };
          const result = await service.recordRescinded({
            signFlow,
            rescissionFlowId: rescission.rescissionFlowId,
            status: 'RESCINDED',
            providerStatus: `SYNC:${snapshot.providerStatus}`,
            source: 'SYNC',
            occurredAt: snapshot.endedAt ?? null,
          });
          return result.event !== undefined ? 'changed' : 'unchanged';
        }
        if (AGREEMENT_FAILED.has(snapshot.status)) {
          await service.agreementEnded(rescission.rescissionFlowId, snapshot.status, `SYNC:${snapshot.providerStatus}`, snapshot.endedAt ?? null, 'SYNC');
          return (await this.deps.store.rescissions.get(rescission.id))?.status !== 'INITIATED' ? 'changed' : 'unchanged';
        }
        return 'unchanged';
      },
    });
  }

  /**
   * Reads `due` records from `provider` in its batch size, within the lease and the read budget, and applies each
   * snapshot: a failed read or an unknown record backs off; `changed` and `settled` (the change was already recorded)
   * clear the record's reconciliation state; `unchanged` records are next due after RECONCILE_AFTER_MS.
   */
  private async readInBatches<T extends { id: string }>(
    kind: ReconcileKind,
    provider: SignFlowProvider,
    due: readonly Due<T>[],
    report: ReconcileReport,
    how: { providerId: (record: T) => string; unknown: string; apply: (record: T, snapshot: ProviderFlowSnapshot) => Promise<'changed' | 'settled' | 'unchanged'> },
  ): Promise<void> {
    const observe = (outcome: 'changed' | 'unchanged' | 'failed', count?: number) => this.options.observer?.reconcileRead(kind, provider.provider, outcome, count);
    for (const batch of chunk(due, provider.maxFetchBatch)) {
      if (!(await this.stillHeld())) return;
      await this.budget(provider, batch.length);
      report.read += batch.length;
      let snapshots: Map<string, ProviderFlowSnapshot>;
      try {
        snapshots = await provider.fetchFlows(batch.map((d) => how.providerId(d.record)));
      } catch (error) {
        const message = (error as Error).message;
        this.logger.warn({ provider: provider.provider, kind, records: batch.length, err: message }, 'reconciliation read failed; backing off');
        for (const d of batch) await this.failure(kind, d, message);
        report.failed += batch.length;
        observe('failed', batch.length);
        continue;
      }
      const unchanged: string[] = [];
      for (const d of batch) {
        const snapshot = snapshots.get(how.providerId(d.record));
        if (!snapshot) {
          await this.failure(kind, d, how.unknown);
          report.failed++;
          observe('failed');
          continue;
        }
        const outcome = await how.apply(d.record, snapshot);
        if (outcome === 'unchanged') {
          unchanged.push(d.record.id);
          continue;
        }
        await this.deps.store.reconcile.forget(kind, [d.record.id]);
        if (outcome === 'changed') report.changed++;
        observe(outcome === 'changed' ? 'changed' : 'unchanged');
      }
      if (unchanged.length > 0) {
        await this.deps.store.reconcile.checked(kind, unchanged, new Date(this.now() + this.options.afterMs));
        observe('unchanged', unchanged.length);
      }
    }
  }

  /** Stops the timer, lets a tick in progress finish its batch, and gives the lease up for another replica. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.stopping.abort();
    await this.running?.catch(() => undefined);
    await this.deps.lease.release().catch((error: unknown) => this.logger.warn({ err: error }, 'reconciliation lease not released'));
    await this.deps.lease.close();
  }
}
