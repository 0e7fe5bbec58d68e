import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { canSee, type Caller } from '../auth/caller';
import { flowId, isTerminal, parseFlowId, UserErrorCode, type EventSource, type FlowRef, type SignProvider, type UserError } from '../domain/model';
import type { EventFeed } from '../events/feed';
import { PROVIDER_ERROR_CODES } from '../graphql/errors';
import { silentLogger, type Logger } from '../logger';
import { ProviderBusinessError, ProviderConnectionError, ProviderError, ProviderNotFoundError } from '../providers/errors';
import { RateLimitAbortedError } from '../providers/rate-limit';
import type { ProviderRegistry } from '../providers/registry';
import type { ProviderFlowSnapshot } from '../providers/types';
import type { CancelItem, CancelRequest, CancelTask, ItemOutcome, NewCancelItem } from '../store/cancel-tasks';
import type { Store, StoredEvent } from '../store/types';
import { chunk, groupBy } from '../util/arrays';
import type { Idempotency } from './idempotency';
import { claimForCaller } from './ownership';
import { syncReport, type FlowRecorder, type StatusReport } from './recorder';

export type CancelTaskLoader = DataLoader<string, CancelTask | null>;
/** A task's items by task id: one query for every task an operation touches. */
export type CancelItemsLoader = DataLoader<string, CancelItem[]>;

/** Provider-neutral codes of `CancelItem.code`, beside the provider failure codes (PROVIDER_TIMEOUT, …). */
export const CancelItemCode = {
  FLOW_NOT_FOUND: UserErrorCode.FLOW_NOT_FOUND,
  FLOW_NOT_REVOCABLE: UserErrorCode.FLOW_NOT_REVOCABLE,
  /** The same id appears earlier in `ids`; only the first occurrence is sent. */
  DUPLICATE_ID: 'DUPLICATE_ID',
  PROVIDER_NOT_CONFIGURED: 'PROVIDER_NOT_CONFIGURED',
  /** An ETC flow in a batch without `etcMemberNo`. */
  ETC_MEMBER_NO_REQUIRED: 'ETC_MEMBER_NO_REQUIRED',
  /** No outcome before the deadline, or the provider's batch task timed out: ok stays null (unknown). */
  TIMEOUT: 'TIMEOUT',
  /** The flow belongs to another tenant: nothing was sent for it. */
  FORBIDDEN: 'FORBIDDEN',
} as const;

/** What a provider that cancels many flows in one call offers (Tencent's ChannelBatchCancelFlows family). */
export interface BatchCancelProvider {
  readonly provider: SignProvider;
  /** The provider's own status code of a cancelled flow (recorded as `providerStatus`). */
  readonly cancelledStatus: string;
  /** Most flows one call may carry. */
  readonly maxCancelBatch: number;
  /** The documented limits of the shared cancel input, fields named relative to the GraphQL input. */
  validateCancel(options: BatchCancelOptions): UserError[];
  /** Aligned failures: null = accepted into the provider's task, else the provider's reason for that flow. */
  cancelBatch(providerFlowIds: readonly string[], options: BatchCancelOptions, signal?: AbortSignal): Promise<{ providerTaskId: string; failures: (string | null)[] }>;
  describeCancelTask(providerTaskId: string, signal?: AbortSignal, agent?: BatchCancelOptions['tencentAgent']): Promise<BatchTaskResult>;
  fetchFlows(providerFlowIds: readonly string[], signal?: AbortSignal): Promise<Map<string, ProviderFlowSnapshot>>;
}

export interface BatchCancelOptions {
  reason?: string | null;
  cancelMessageFormat?: number | null;
  /** Tencent's Agent the task's caller acts as; absent: the configured one. */
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | null;
}

/** A provider batch task's result, from polling or from its callback. */
export interface BatchTaskResult {
  status: 'PROCESSING' | 'END' | 'TIMEOUT';
  successFlowIds: readonly string[];
  failureFlows: ReadonlyArray<{ flowId: string; reason: string }>;
}

export interface CancelInput {
  ids: readonly string[];
  reason?: string | null;
  cancelMessageFormat?: number | null;
  etcMemberNo?: string | null;
  idempotencyKey?: string | null;
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | null;
}

/** Plain JSON, so an idempotent replay returns exactly what the first request returned. */
export interface CancelResult {
  taskId: string | null;
  userErrors: UserError[];
}

export interface CancelServiceOptions {
  logger?: Logger;
  /** How often a provider batch task without an answer yet is polled. Default 2 s (callbacks usually come first). */
  pollIntervalMs?: number;
  /** From creation: items without an outcome by then end TIMEOUT. Default 10 minutes. */
  deadlineMs?: number;
  /** Batch calls in flight at once per provider (the rate limiter paces them). Default 8. */
  batchConcurrency?: number;
  /** Single revokes in flight at once for providers without a batch call. Default 4. */
  revokeConcurrency?: number;
  /** How long a run's claim on a task lasts without renewal; a crashed replica's tasks are resumed after it. */
  leaseMs?: number;
  /** Most ids one request may carry (summed over every cancelSignFlows of one operation). Default 20,000. */
  maxIds?: number;
  /** Unfinished tasks one caller may have (CANCEL_TASKS_PER_CALLER); 0: no bound. Default 10. */
  tasksPerCaller?: number;
}

/** Thrown inside the idempotent run (so the key is released, not bound to the refusal), answered as a userError. */
class TooManyCancelTasks extends Error {}

const TERMINAL_TASK_STATES = new Set(['SUCCEEDED', 'PARTIAL', 'FAILED', 'TIMEOUT']);

export function isFinished(task: Pick<CancelTask, 'state'>): boolean {
  return TERMINAL_TASK_STATES.has(task.state);
}

/** Runs `work` over `items` with at most `limit` in flight, in order of start. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** `etcMemberNo` → `ETC_MEMBER_NO`. */
const upperSnake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** The GraphQL code of a provider failure, for per-item results. */
function failureCode(error: ProviderError): string {
  return PROVIDER_ERROR_CODES[error.kind];
}

/** A failure after which the provider may or may not have acted: the flows are re-read before deciding. */
function ambiguous(error: ProviderError): boolean {
  if (error instanceof ProviderConnectionError) return !error.notSent;
  return error.kind === 'timeout' || error.kind === 'server' || error.kind === 'response';
}

interface Running {
  /** When the task was created: how long it has been running, for metrics. */
  createdAt: Date;
  controller: AbortController;
  done: Promise<void>;
  wake: () => void;
}

/**
 * `cancelSignFlows`: validate → idempotency → one persisted task → a background run. Flows of a provider with a batch
 * call (Tencent) go in chunks of its maximum, paced by its client's rate limiter; the others through their single
 * revoke with bounded concurrency. Each item settles from whichever source answers first — the synchronous answer
 * (refusals), the provider's batch task (polled) or its callback — and the task's state follows its items:
 * PROCESSING → SUCCEEDED / PARTIAL / FAILED, or TIMEOUT when outcomes are missing at the deadline. Every change is
 * one transaction plus a 'canceltask' event, so `cancelTaskProgress` streams it from the event log.
 *
 * A task survives its request (the mutation answers at once with the task) and its process: a run holds a lease on
 * the task; a task whose lease ran out (its replica died) is resumed by the next scan, re-reading the flows it had
 * not heard back about before sending anything again.
 */
export class CancelService {
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly deadlineMs: number;
  private readonly batchConcurrency: number;
  private readonly revokeConcurrency: number;
  private readonly leaseMs: number;
  readonly maxIds: number;
  private readonly tasksPerCaller: number;
  private readonly running = new Map<string, Running>();
  private scanTimer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly batchProviders: ReadonlyMap<SignProvider, BatchCancelProvider>,
    private readonly recorder: FlowRecorder,
    private readonly feed: Pick<EventFeed, 'published'>,
    private readonly idempotency: Idempotency,
    options: CancelServiceOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.deadlineMs = options.deadlineMs ?? 10 * 60_000;
    this.batchConcurrency = options.batchConcurrency ?? 8;
    this.revokeConcurrency = options.revokeConcurrency ?? 4;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxIds = options.maxIds ?? 20_000;
    this.tasksPerCaller = options.tasksPerCaller ?? 10;
  }

  /** Runs this process holds now and the creation time of the oldest (metrics: a run far past its deadline is stuck). */
  activity(): { active: number; oldestCreatedAt: Date | null } {
    let oldest: Date | null = null;
    for (const run of this.running.values()) if (oldest === null || run.createdAt < oldest) oldest = run.createdAt;
    return { active: this.running.size, oldestCreatedAt: oldest };
  }

  get(id: string): Promise<CancelTask | undefined> {
    return this.store.cancelTasks.get(id);
  }

  /** A per-request loader: every task id asked for while resolving one operation is read with one store query. */
  createLoader(caller: Caller): CancelTaskLoader {
    return new DataLoader<string, CancelTask | null>(
      async (ids) => {
        const found = await this.store.cancelTasks.getMany(ids);
        return ids.map((id) => {
          const task = found.get(id);
          return task && canSee(caller, task.tenant) ? task : null;
        });
      },
      { maxBatchSize: 1000 },
    );
  }

  createItemsLoader(): CancelItemsLoader {
    return new DataLoader<string, CancelItem[]>(
      async (ids) => {
        const found = await this.store.cancelTasks.itemsOfTasks(ids);
        return ids.map((id) => found.get(id) ?? []);
      },
      // A task may carry thousands of items: a few tasks per query keeps each answer bounded.
      { maxBatchSize: 50 },
    );
  }

  /** Resumes tasks left PROCESSING by a process that stopped, now and then every half lease. */
  start(): void {
    if (this.scanTimer || this.closed) return;
    this.scanning = this.scan();
    this.scanTimer = setInterval(() => {
      this.scanning = (this.scanning ?? Promise.resolve()).then(() => this.scan());
    }, Math.max(1_000, Math.floor(this.leaseMs / 2)));
    this.scanTimer.unref();
  }

  /** Stops every run (a chunk in flight is finished and stored), releases the leases, waits for the runs. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    await this.scanning?.catch(() => undefined);
    const runs = [...this.running.entries()];
    for (const [, run] of runs) {
      run.controller.abort();
      run.wake();
    }
    await Promise.all(runs.map(([, run]) => run.done));
  }

  // ------------------------------------------------------------------------------------------------------------
  // The request

  async cancel(input: CancelInput, caller: Caller): Promise<CancelResult> {
    const refuse = (errors: UserError[]): CancelResult => ({ taskId: null, userErrors: errors });
    if (input.ids.length === 0) {
      return refuse([{ code: UserErrorCode.INVALID_INPUT, field: ['input', 'ids'], message: 'ids must name at least one flow' }]);
    }
    if (input.ids.length > this.maxIds) {
      return refuse([{ code: UserErrorCode.INVALID_INPUT, field: ['input', 'ids'], message: `ids may name at most ${this.maxIds} flows per request, got ${input.ids.length}; split the list` }]);
    }
    const refs: FlowRef[] = [];
    const invalid: UserError[] = [];
    input.ids.forEach((id, i) => {
      const ref = parseFlowId(id);
      if (ref) refs.push(ref);
      else if (invalid.length < 20) {
        invalid.push({ code: UserErrorCode.INVALID_ID, field: ['input', 'ids', String(i)], message: `ids[${i}] must be <SignProvider>:<provider flow id>, got ${JSON.stringify(id.slice(0, 80))}` });
      }
    });
    if (invalid.length > 0) return refuse(invalid);

    const options: CancelRequest = {
      reason: input.reason && input.reason.trim() !== '' ? input.reason : null,
      cancelMessageFormat: input.cancelMessageFormat ?? null,
      etcMemberNo: input.etcMemberNo && input.etcMemberNo.trim() !== '' ? input.etcMemberNo : null,
      actor: caller.sub,
      tencentAgent: input.tencentAgent ?? null,
    };
    const { inputErrors, itemFailures } = this.validate(refs, options);
    if (inputErrors.length > 0) return refuse(inputErrors);

    try {
      return await this.idempotency.run(
        caller,
        input.idempotencyKey,
        'cancelSignFlows',
        { ...input, ids: [...input.ids] },
        async () => {
          await this.assertFewerTasks(caller);
          return this.create(refs, options, itemFailures, caller);
        },
        (error) => refuse([error]),
      );
    } catch (error) {
      if (!(error instanceof TooManyCancelTasks)) throw error;
      return refuse([{ code: UserErrorCode.TOO_MANY_CANCEL_TASKS, field: ['input', 'ids'], message: error.message }]);
    }
  }

  /** CANCEL_TASKS_PER_CALLER: checked when a task would be created (concurrent requests may pass it together). */
  private async assertFewerTasks(caller: Caller): Promise<void> {
    if (this.tasksPerCaller <= 0) return;
    const running = await this.store.cancelTasks.countProcessingOf({ tenant: caller.tenant, actor: caller.sub }, this.tasksPerCaller);
    if (running >= this.tasksPerCaller) {
      throw new TooManyCancelTasks(
        `you already have ${running} cancel tasks still PROCESSING, the most one caller may (CANCEL_TASKS_PER_CALLER); wait for one to finish (cancelTaskProgress) and retry`,
      );
    }
  }

  /**
   * Each provider in the batch checks the shared input once. A problem with a value given (a reason too long for
   * ETC, characters Tencent refuses) refuses the request; a value a provider needs but the input left out
   * (etcMemberNo) fails that provider's items only, so the rest of the batch still runs.
   */
  private validate(refs: readonly FlowRef[], options: CancelRequest): { inputErrors: UserError[]; itemFailures: Map<SignProvider, ItemOutcome> } {
    const inputErrors: UserError[] = [];
    const itemFailures = new Map<SignProvider, ItemOutcome>();
    const seen = new Set<string>();
    const given: Record<string, unknown> = { ...options };
    for (const ref of refs) {
      if (seen.has(ref.provider)) continue;
      seen.add(ref.provider);
      const batch = this.batchProviders.get(ref.provider);
      let errors: UserError[];
      if (batch) {
        errors = batch.validateCancel(options);
      } else if (this.providers.has(ref.provider)) {
        errors = this.providers.get(ref.provider).validateRevoke({
          providerFlowId: ref.providerFlowId,
          reason: options.reason,
          etcMemberNo: options.etcMemberNo,
          cancelMessageFormat: null,
        });
      } else {
        itemFailures.set(ref.provider, { ok: false, code: CancelItemCode.PROVIDER_NOT_CONFIGURED, reason: `the ${ref.provider} provider is not configured on this server` });
        continue;
      }
      for (const error of errors) {
        const field = error.field?.[0];
        if (field !== undefined && field !== 'id' && (given[field] === null || given[field] === undefined)) {
          if (!itemFailures.has(ref.provider)) itemFailures.set(ref.provider, { ok: false, code: `${upperSnake(field)}_REQUIRED`, reason: error.message });
        } else if (field !== 'id') {
          inputErrors.push({ ...error, field: ['input', ...(error.field ?? [])] });
        }
      }
    }
    return { inputErrors, itemFailures };
  }

  private async create(refs: readonly FlowRef[], request: CancelRequest, itemFailures: Map<SignProvider, ItemOutcome>, caller: Caller): Promise<CancelResult> {
    const ids = refs.map(flowId);
    const known = new Map<string, { status: string; terminal: boolean }>();
    // Time before the first provider call: one read (the store chunks it where it must).
    const found = await this.store.flows.getMany(ids);
    for (const [id, flow] of found) known.set(id, { status: flow.status, terminal: isTerminal(flow.status) });
    // Another tenant's flows fail at once; unowned ones become the caller's (docs/security.md, "Tenancy").
    const allowed = await claimForCaller(this.store, caller, 'signflow', new Map([...found].map(([id, flow]) => [id, flow.tenant])));
    const firstAt = new Map<string, number>();
    const items: NewCancelItem[] = refs.map((ref, i) => {
      const id = ids[i] as string;
      const item: NewCancelItem = { flowId: id, provider: ref.provider, providerFlowId: ref.providerFlowId };
      const first = firstAt.get(id);
      const flow = known.get(id);
      if (first !== undefined) {
        item.outcome = { ok: false, code: CancelItemCode.DUPLICATE_ID, reason: `the same flow is ids[${first}]; it is cancelled once` };
      } else if (found.has(id) && !allowed.has(id)) {
        item.outcome = { ok: false, code: CancelItemCode.FORBIDDEN, reason: 'the flow belongs to another tenant' };
      } else if (itemFailures.has(ref.provider)) {
        item.outcome = itemFailures.get(ref.provider);
      } else if (flow?.terminal) {
        // Finished flows stay finished, so the provider need not be asked.
        item.outcome = { ok: false, code: CancelItemCode.FLOW_NOT_REVOCABLE, reason: `the flow is ${flow.status}; only an unfinished flow can be cancelled` };
      }
      if (first === undefined) firstAt.set(id, i);
      return item;
    });
    const taskId = `cancel_${randomUUID().replace(/-/g, '')}`;
    const now = Date.now();
    const { task, event } = await this.store.transaction(async (tx) => {
      const created = await tx.cancelTasks.create(
        { id: taskId, request, deadlineAt: new Date(now + this.deadlineMs), leaseUntil: new Date(now + this.leaseMs), tenant: caller.tenant },
        items,
      );
      return { task: created, event: await this.appendEvent(tx, created, 'MUTATION') };
    });
    this.feed.published(event);
    this.logger.info({ task: taskId, total: task.total, providers: task.providers }, 'cancel task created');
    if (!isFinished(task)) {
      // The run starts from what was just written, without reading thousands of rows back.
      const pending: CancelItem[] = [];
      items.forEach((item, position) => {
        if (!item.outcome) pending.push({ taskId, position, ...item, settled: false, ok: null, code: null, reason: null, providerTaskId: null, updatedAt: task.createdAt });
      });
      this.launch(task, false, pending);
    }
    return { taskId, userErrors: [] };
  }

  // ------------------------------------------------------------------------------------------------------------
  // The run

  private launch(task: CancelTask, resume: boolean, pending?: CancelItem[]): void {
    if (this.closed || this.running.has(task.id)) return;
    const controller = new AbortController();
    let wake: () => void = () => undefined;
    const running: Running = { createdAt: task.createdAt, controller, done: Promise.resolve(), wake: () => wake() };
    running.done = this.run(task, resume, pending, controller.signal, (fn) => {
      wake = fn;
    })
      .catch(async (error: unknown) => {
        if (error instanceof RateLimitAbortedError) return;
        this.logger.error({ err: error, task: task.id }, 'cancel task run failed; it will be resumed');
      })
      .finally(async () => {
        this.running.delete(task.id);
        // Another process may take over at once rather than after the lease.
        await this.store.cancelTasks.claim(task.id, 0, 'renew').catch(() => undefined);
      });
    this.running.set(task.id, running);
  }

  private async run(task: CancelTask, resume: boolean, known: CancelItem[] | undefined, signal: AbortSignal, onWake: (wake: () => void) => void): Promise<void> {
    const pending = known ?? (await this.store.cancelTasks.items(task.id, { pendingOnly: true }));
    const byProvider = groupBy(pending, (item) => item.provider);
    const lease = this.leaseKeeper(task.id);
    await Promise.all(
      [...byProvider].map(([provider, items]) => {
        const batch = this.batchProviders.get(provider);
        return batch ? this.runBatch(task, batch, items, resume, signal, lease) : this.runSingles(task, items, signal, lease);
      }),
    );
    await this.poll(task, signal, onWake, lease);
  }

  /** Renews the run's lease at most every third of it. */
  private leaseKeeper(taskId: string): () => Promise<void> {
    let renewedAt = Date.now();
    return async () => {
      if (Date.now() - renewedAt < this.leaseMs / 3) return;
      renewedAt = Date.now();
      await this.store.cancelTasks.claim(taskId, this.leaseMs, 'renew');
    };
  }

  private async runBatch(task: CancelTask, provider: BatchCancelProvider, items: CancelItem[], resume: boolean, signal: AbortSignal, lease: () => Promise<void>): Promise<void> {
    let unsent = items.filter((item) => item.providerTaskId === null);
    if (resume && unsent.length > 0) unsent = await this.resyncUnsent(task, provider, unsent, signal);
    // The task acts as the caller who started it, also when another replica resumes it after a crash.
    const options = { reason: task.request.reason, cancelMessageFormat: task.request.cancelMessageFormat, tencentAgent: task.request.tencentAgent };
    await pool(chunk(unsent, provider.maxCancelBatch), this.batchConcurrency, async (part) => {
      if (signal.aborted) return;
      const ids = part.map((item) => item.providerFlowId);
      let answer: { providerTaskId: string; failures: (string | null)[] };
      try {
        answer = await provider.cancelBatch(ids, options, signal);
      } catch (error) {
        if (error instanceof RateLimitAbortedError) return;
        if (!(error instanceof ProviderError)) throw error;
        this.logger.warn({ task: task.id, provider: provider.provider, err: error.message }, 'batch cancel call failed');
        await this.settleFailedCall(task, provider, part, error, signal);
        return;
      }
      const refused: CancelItem[] = [];
      const reasons: string[] = [];
      const accepted: number[] = [];
      part.forEach((item, i) => {
        const failure = answer.failures[i];
        if (failure === null || failure === undefined) {
          accepted.push(item.position);
        } else {
          refused.push(item);
          reasons.push(failure);
        }
      });
      // The accepted flows are tied to the provider task first, so its callback finds them even while the refused
      // ones are still being re-read.
      await this.attachProviderTask(task.id, provider.provider, accepted, answer.providerTaskId);
      if (refused.length > 0) {
        const outcomes = await this.refusalOutcomes(task, provider, refused, reasons, signal);
        await this.update(task.id, 'MUTATION', (tx) => tx.cancelTasks.settle(task.id, outcomes));
      }
      await lease();
    });
  }

  /**
   * Refusals from the synchronous answer. The flows are re-read (one call per chunk, another action's budget) so a
   * flow Tencent does not know says FLOW_NOT_FOUND and a finished one's real status is recorded.
   */
  private async refusalOutcomes(task: CancelTask, provider: BatchCancelProvider, refused: CancelItem[], reasons: string[], signal: AbortSignal): Promise<Array<ItemOutcome & { position: number }>> {
    const snapshots = refused.length > 0 ? await this.readFlows(task, provider, refused, signal) : undefined;
    return refused.map((item, i) => ({
      position: item.position,
      ok: false,
      code: snapshots && !snapshots.has(item.providerFlowId) ? CancelItemCode.FLOW_NOT_FOUND : CancelItemCode.FLOW_NOT_REVOCABLE,
      reason: reasons[i] ?? null,
    }));
  }

  /** Reads flows from the provider and records what it says; undefined when the read itself failed. */
  private async readFlows(task: CancelTask, provider: BatchCancelProvider, items: readonly CancelItem[], signal: AbortSignal): Promise<Map<string, ProviderFlowSnapshot> | undefined> {
    try {
      const snapshots = await provider.fetchFlows(items.map((item) => item.providerFlowId), signal);
      const reports = [...snapshots.values()].map((snapshot) => syncReport(provider.provider, snapshot, { tenant: task.tenant }));
      const events = await this.store.transaction((tx) => this.recorder.recordManyIn(tx, reports));
      const last = events.at(-1);
      if (last) this.feed.published(last);
      return snapshots;
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      this.logger.info({ provider: provider.provider, err: error.message }, 'could not re-read flows of a cancel task');
      return undefined;
    }
  }

  /**
   * A whole call failed. If the provider may have acted anyway (timeout, 5xx), the flows are re-read: the ones now
   * cancelled succeeded. The rest fail with the failure's code.
   */
  private async settleFailedCall(task: CancelTask, provider: BatchCancelProvider, part: CancelItem[], error: ProviderError, signal: AbortSignal): Promise<void> {
    const snapshots = ambiguous(error) ? await this.readFlows(task, provider, part, signal) : undefined;
    const outcomes = part.map((item) => {
      if (snapshots?.get(item.providerFlowId)?.status === 'REVOKED') return { position: item.position, ok: true };
      const note = ambiguous(error) && !snapshots ? ' (the flow may or may not have been cancelled; read signFlow to know)' : '';
      return { position: item.position, ok: false, code: failureCode(error), reason: `${error.message}${note}` };
    });
    await this.update(task.id, 'MUTATION', (tx) => tx.cancelTasks.settle(task.id, outcomes));
  }

  /**
   * On resume, items never answered may or may not have been sent before the crash: re-read them first. Cancelled
   * ones succeeded, finished ones failed, unknown ones are not found; only still-open flows are sent (again).
   */
  private async resyncUnsent(task: CancelTask, provider: BatchCancelProvider, unsent: CancelItem[], signal: AbortSignal): Promise<CancelItem[]> {
    const toSend: CancelItem[] = [];
    for (const part of chunk(unsent, provider.maxCancelBatch)) {
      const snapshots = await this.readFlows(task, provider, part, signal);
      if (!snapshots) {
        toSend.push(...part);
        continue;
      }
      const outcomes: Array<ItemOutcome & { position: number }> = [];
      for (const item of part) {
        const snapshot = snapshots.get(item.providerFlowId);
        if (!snapshot) outcomes.push({ position: item.position, ok: false, code: CancelItemCode.FLOW_NOT_FOUND, reason: `${provider.provider} does not know the flow` });
        else if (snapshot.status === 'REVOKED') outcomes.push({ position: item.position, ok: true });
        else if (isTerminal(snapshot.status)) outcomes.push({ position: item.position, ok: false, code: CancelItemCode.FLOW_NOT_REVOCABLE, reason: `the flow is ${snapshot.status}` });
        else toSend.push(item);
      }
      if (outcomes.length > 0) await this.update(task.id, 'SYNC', (tx) => tx.cancelTasks.settle(task.id, outcomes));
    }
    return toSend;
  }

  /** Providers without a batch call: their own revoke, a few at a time, stored in groups. */
  private async runSingles(task: CancelTask, items: CancelItem[], signal: AbortSignal, lease: () => Promise<void>): Promise<void> {
    for (const group of chunk(items, 20)) {
      if (signal.aborted) return;
      const outcomes: Array<ItemOutcome & { position: number }> = [];
      await pool(group, this.revokeConcurrency, async (item) => {
        outcomes.push({ position: item.position, ...(await this.revokeOne(task, item)) });
      });
      await this.update(task.id, 'MUTATION', (tx) => tx.cancelTasks.settle(task.id, outcomes));
      await lease();
    }
  }

  private async revokeOne(task: CancelTask, item: CancelItem): Promise<ItemOutcome> {
    const ref = { provider: item.provider, providerFlowId: item.providerFlowId };
    try {
      const provider = this.providers.get(item.provider);
      const outcome = await provider.revoke({
        providerFlowId: item.providerFlowId,
        reason: task.request.reason,
        etcMemberNo: task.request.etcMemberNo,
        cancelMessageFormat: null,
        tencentAgent: task.request.tencentAgent ?? undefined,
      });
      const now = new Date();
      await this.recorder.record({ ref, status: outcome.status, providerStatus: outcome.providerStatus, source: 'MUTATION', occurredAt: now, endedAt: now, tenant: task.tenant, actor: task.request.actor });
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (error instanceof ProviderNotFoundError) return { ok: false, code: CancelItemCode.FLOW_NOT_FOUND, reason: error.message };
      if (error instanceof ProviderBusinessError) {
        await this.resyncOne(task, item);
        return { ok: false, code: CancelItemCode.FLOW_NOT_REVOCABLE, reason: error.message };
      }
      return { ok: false, code: failureCode(error), reason: error.message };
    }
  }

  private async resyncOne(task: CancelTask, item: CancelItem): Promise<void> {
    try {
      const snapshot = (await this.providers.get(item.provider).fetchFlows([item.providerFlowId])).get(item.providerFlowId);
      if (snapshot) {
        await this.recorder.record({ ref: { provider: item.provider, providerFlowId: item.providerFlowId }, status: snapshot.status, providerStatus: snapshot.providerStatus, source: 'SYNC', endedAt: snapshot.endedAt, tenant: task.tenant });
      }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
    }
  }

  /**
   * Polls the provider tasks that still carry pending items until none is left, the deadline passes (TIMEOUT) or the
   * service closes. A callback that settles the last items wakes the loop at once.
   */
  private async poll(task: CancelTask, signal: AbortSignal, onWake: (wake: () => void) => void, lease: () => Promise<void>): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      const pending = await this.store.cancelTasks.items(task.id, { pendingOnly: true });
      if (pending.length === 0) return;
      const remaining = task.deadlineAt.getTime() - Date.now();
      if (remaining <= 0) {
        await this.timeOut(task, pending, signal);
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(this.pollIntervalMs, remaining));
        onWake(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (signal.aborted) return;
      const providerTasks = new Map<string, SignProvider>();
      for (const item of await this.store.cancelTasks.items(task.id, { pendingOnly: true })) {
        if (item.providerTaskId) providerTasks.set(item.providerTaskId, item.provider);
      }
      for (const [providerTaskId, providerName] of providerTasks) {
        const provider = this.batchProviders.get(providerName);
        if (!provider || signal.aborted) continue;
        try {
          const result = await provider.describeCancelTask(providerTaskId, signal, task.request.tencentAgent);
          await this.applyTaskResult(providerName, providerTaskId, result, 'SYNC');
        } catch (error) {
          if (error instanceof RateLimitAbortedError) return;
          if (!(error instanceof ProviderError)) throw error;
          this.logger.warn({ task: task.id, providerTask: providerTaskId, err: error.message }, 'polling a provider cancel task failed; retrying at the next poll');
        }
      }
      await lease();
    }
  }

  /** The deadline passed: a last read of the flows, then whatever is still unknown ends TIMEOUT. */
  private async timeOut(task: CancelTask, pending: CancelItem[], signal: AbortSignal): Promise<void> {
    const outcomes: Array<ItemOutcome & { position: number }> = [];
    const byProvider = groupBy(pending, (item) => item.provider);
    for (const [providerName, items] of byProvider) {
      const provider = this.batchProviders.get(providerName);
      const read = new Map<string, ProviderFlowSnapshot>();
      if (provider && !signal.aborted) {
        for (const part of chunk(items, provider.maxCancelBatch)) {
          for (const [id, snapshot] of (await this.readFlows(task, provider, part, signal)) ?? []) read.set(id, snapshot);
        }
      }
      for (const item of items) {
        if (read.get(item.providerFlowId)?.status === 'REVOKED') outcomes.push({ position: item.position, ok: true });
        else outcomes.push({ position: item.position, ok: null, code: CancelItemCode.TIMEOUT, reason: `no outcome from ${providerName} before the task's deadline` });
      }
    }
    await this.update(task.id, 'SYNC', (tx) => tx.cancelTasks.settle(task.id, outcomes));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Provider task results (polling and callbacks)

  /**
   * Applies a provider batch task's result to the items it carries that are still pending (the first outcome wins).
   * With a `receipt` (a callback), the receipt is stored in the same transaction and a repeated one changes nothing.
   * Flows it reports cancelled are recorded REVOKED. Returns whether any of our tasks carries that provider task.
   */
  async applyTaskResult(
    provider: SignProvider,
    providerTaskId: string,
    result: BatchTaskResult,
    source: EventSource,
    receipt?: { dedupeKey: string; body: string },
  ): Promise<{ known: boolean; duplicate: boolean; events: number }> {
    const cancelledStatus = this.batchProviders.get(provider)?.cancelledStatus ?? null;
    const outcome = await this.store.transaction(async (tx) => {
      // A retry is answered from its receipt without waiting for the log lock (as in FlowRecorder.record).
      if (receipt && !(await tx.receipts.insert({ provider, dedupeKey: receipt.dedupeKey, body: receipt.body }))) {
        return { known: true, duplicate: true, events: [] as StoredEvent[], flowEvents: [] as StoredEvent[] };
      }
      // The log lock before any row lock (see EventRepository.lock); it also orders this read of the items against
      // the assignment of a provider task to them (attachProviderTask), so a result is either applied here or
      // parked and picked up there — never neither.
      await tx.events.lock();
      const items = await tx.cancelTasks.itemsByProviderTask(provider, providerTaskId);
      if (items.length === 0) {
        // Either a batch this API never started, or the provider finished ours and called back before the answer
        // to the call that started it was stored: kept for attachProviderTask (purged after a day if unclaimed).
        await tx.cancelTasks.parkEarlyResult({ provider, providerTaskId, source, result: JSON.stringify(result) });
        return { known: false, duplicate: false, events: [] as StoredEvent[], flowEvents: [] as StoredEvent[] };
      }
      const success = new Set(result.successFlowIds);
      const failures = new Map(result.failureFlows.map((f) => [f.flowId, f.reason]));
      const byTask = groupBy(items, (item) => item.taskId);
      const events: StoredEvent[] = [];
      const now = new Date();
      const reports: StatusReport[] = [];
      for (const [taskId, taskItems] of byTask) {
        await tx.cancelTasks.lock(taskId);
        const outcomes: Array<ItemOutcome & { position: number }> = [];
        const revoked: string[] = [];
        for (const item of taskItems) {
          if (item.settled) continue;
          if (success.has(item.providerFlowId)) {
            outcomes.push({ position: item.position, ok: true });
            revoked.push(item.providerFlowId);
          } else if (failures.has(item.providerFlowId)) {
            outcomes.push({ position: item.position, ok: false, code: CancelItemCode.FLOW_NOT_REVOCABLE, reason: failures.get(item.providerFlowId) ?? null });
          } else if (result.status === 'END') {
            outcomes.push({ position: item.position, ok: false, code: CancelItemCode.FLOW_NOT_REVOCABLE, reason: `${provider} ended the cancel task without reporting this flow` });
          } else if (result.status === 'TIMEOUT') {
            outcomes.push({ position: item.position, ok: null, code: CancelItemCode.TIMEOUT, reason: `${provider}'s cancel task timed out before cancelling this flow` });
          }
        }
        if (outcomes.length === 0) continue;
        if ((await tx.cancelTasks.settle(taskId, outcomes)) === 0) continue;
        const task = await tx.cancelTasks.refresh(taskId);
        events.push(await this.appendEvent(tx, task, source));
        for (const providerFlowId of revoked) {
          reports.push({
            ref: { provider, providerFlowId },
            status: 'REVOKED',
            providerStatus: cancelledStatus,
            source: 'MUTATION',
            occurredAt: now,
            endedAt: now,
            tenant: task.tenant,
            actor: task.request.actor,
          });
        }
      }
      // The flows it cancelled become REVOKED in the same transaction: one commit and one wake-up per result.
      const flowEvents = await this.recorder.recordManyIn(tx, reports);
      const first = events[0];
      if (receipt && first) await tx.receipts.linkEvent(provider, receipt.dedupeKey, first.id);
      return { known: true, duplicate: false, events, flowEvents };
    });
    const last = [...outcome.events, ...outcome.flowEvents].reduce<StoredEvent | undefined>((a, e) => (a && a.id > e.id ? a : e), undefined);
    if (last) this.feed.published(last);
    for (const event of outcome.events) if (isFinished({ state: event.status as CancelTask['state'] })) this.running.get(event.subjectId)?.wake();
    return { known: outcome.known, duplicate: outcome.duplicate, events: outcome.events.length };
  }

  /**
   * Records which items a provider task carries, then applies any result of that task that arrived before this
   * (parked by applyTaskResult): a fast provider can call back before the answer to the call is stored.
   */
  private async attachProviderTask(taskId: string, provider: SignProvider, positions: readonly number[], providerTaskId: string): Promise<void> {
    // Nothing accepted: the provider task carries none of our flows, and a result for it would only be parked again.
    if (positions.length === 0) return;
    const early = await this.store.transaction(async (tx) => {
      await tx.events.lock();
      await tx.cancelTasks.assignProviderTask(taskId, positions, providerTaskId);
      return tx.cancelTasks.earlyResults(provider, providerTaskId);
    });
    if (early.length === 0) return;
    for (const parked of early) {
      await this.applyTaskResult(provider, providerTaskId, JSON.parse(parked.result) as BatchTaskResult, parked.source as EventSource);
    }
    // Dropped only once applied: a crash before this leaves the run to be resumed, which polls the task anyway.
    await this.store.cancelTasks.dropEarlyResults(early.map((e) => e.id));
    this.logger.info({ task: taskId, provider, providerTask: providerTaskId, results: early.length }, 'applied a provider task result that arrived before the task was recorded');
  }

  /**
   * Reads a provider batch task's result now (a callback said it finished without saying how) and applies it.
   * Never throws: on failure the run's own polling picks the task up.
   */
  async readProviderTask(provider: SignProvider, providerTaskId: string): Promise<void> {
    const batch = this.batchProviders.get(provider);
    if (!batch || this.closed) return;
    try {
      const result = await batch.describeCancelTask(providerTaskId);
      await this.applyTaskResult(provider, providerTaskId, result, 'CALLBACK');
    } catch (error) {
      this.logger.warn({ provider, providerTask: providerTaskId, err: error instanceof Error ? error.message : String(error) }, 'reading a provider cancel task after its callback failed; polling continues');
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Storage

  /**
   * Runs `change` (returns how many items it settled) in a transaction with the recount and the progress event; a
   * change that settled nothing writes no event.
   */
  private async update(taskId: string, source: EventSource, change: (tx: Store) => Promise<number>): Promise<void> {
    const event = await this.store.transaction(async (tx) => {
      await tx.cancelTasks.lock(taskId);
      if ((await change(tx)) === 0) return undefined;
      return this.appendEvent(tx, await tx.cancelTasks.refresh(taskId), source);
    });
    if (event) this.feed.published(event);
  }

  private appendEvent(tx: Store, task: CancelTask, source: EventSource): Promise<StoredEvent> {
    return tx.events.append({
      kind: 'canceltask',
      subjectId: task.id,
      provider: task.providers.join(','),
      status: task.state,
      providerStatus: null,
      source,
      occurredAt: null,
      // Every change of a task is the doing of the caller who started it.
      actor: task.request.actor ?? null,
      data: { total: task.total, succeeded: task.succeeded, failed: task.failed },
    });
  }

  /** Claims and resumes tasks nobody is running: left by a crash, or by a replica that shut down mid-task. */
  private async scan(): Promise<void> {
    if (this.closed) return;
    try {
      for (const task of await this.store.cancelTasks.listProcessing(100)) {
        if (this.closed) return;
        if (this.running.has(task.id) || (task.leaseUntil && task.leaseUntil.getTime() > Date.now())) continue;
        if (!(await this.store.cancelTasks.claim(task.id, this.leaseMs))) continue;
        this.logger.info({ task: task.id }, 'resuming a cancel task nobody was running');
        this.launch(task, true);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'scanning for cancel tasks to resume failed');
    }
  }
}
