import { sql, type Generated, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { SignProvider } from '../domain/model';
import { groupBy } from '../util/arrays';
import type { Database } from './schema';
import type { Dialect } from './types';

export const CANCEL_TASK_STATES = ['PROCESSING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'TIMEOUT'] as const;
export type CancelTaskState = (typeof CANCEL_TASK_STATES)[number];

/** What the task was asked to do, kept so a task interrupted by a crash can be resumed as it was requested. */
export interface CancelRequest {
  reason: string | null;
  /** Tencent's CancelMessageFormat, 0–3. */
  cancelMessageFormat: number | null;
  etcMemberNo: string | null;
  /** `sub` of the caller who started the task: the actor of every event it causes. */
  actor?: string | null;
  /** Tencent's Agent (proxy organisation and operator) the caller acts as; absent: the configured one. */
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | null;
}

/** One `cancelSignFlows` request and its progress. */
export interface CancelTask {
  id: string;
  state: CancelTaskState;
  total: number;
  succeeded: number;
  failed: number;
  /** Settled without an outcome (timed out). */
  unknown: number;
  /** Items with an outcome or a timeout; the rest are pending. */
  settled: number;
  /** The providers its flows belong to, sorted. */
  providers: SignProvider[];
  request: CancelRequest;
  /** Items still unsettled then end the task TIMEOUT. */
  deadlineAt: Date;
  /** While set and in the future, one process is running the task; others leave it alone. */
  leaseUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The tenant of the caller who started it (null: none). */
  tenant: string | null;
}

/** One requested flow, at its position in the request. */
export interface CancelItem {
  taskId: string;
  position: number;
  flowId: string;
  provider: SignProvider;
  providerFlowId: string;
  /** Has an outcome (ok true/false, or a timeout with ok still null). */
  settled: boolean;
  /** null while pending, and when the outcome is unknown (TIMEOUT). */
  ok: boolean | null;
  code: string | null;
  reason: string | null;
  /** The provider's batch task that carries this flow (Tencent's TaskId). */
  providerTaskId: string | null;
  updatedAt: Date;
}

export interface NewCancelItem {
  flowId: string;
  provider: SignProvider;
  providerFlowId: string;
  /** Settled at creation (a duplicate id, a provider not configured, a flow known to be finished). */
  outcome?: ItemOutcome;
}

export interface ItemOutcome {
  /** null with settled: the outcome is unknown (the task timed out). */
  ok: boolean | null;
  code?: string | null;
  reason?: string | null;
}

export interface CancelTaskRepository {
  /** Inserts the task and its items (positions 0…n-1, in the order given). Call inside a transaction. */
  create(task: { id: string; request: CancelRequest; deadlineAt: Date; leaseUntil?: Date | null; tenant?: string | null }, items: readonly NewCancelItem[]): Promise<CancelTask>;
  get(id: string): Promise<CancelTask | undefined>;
  /** One query for any number of ids; the map holds the ones found. */
  getMany(ids: readonly string[]): Promise<Map<string, CancelTask>>;
  /** On PostgreSQL, holds the task row until the transaction ends, so concurrent updaters take turns. */
  lock(id: string): Promise<void>;
  /** In input order. */
  items(taskId: string, q?: { pendingOnly?: boolean; provider?: SignProvider; offset?: number; limit?: number }): Promise<CancelItem[]>;
  /** Every item of each task, in input order, in one query; tasks without items (or unknown) are absent. */
  itemsOfTasks(taskIds: readonly string[]): Promise<Map<string, CancelItem[]>>;
  /** Items carried by a provider's batch task, across our tasks (normally one). */
  itemsByProviderTask(provider: SignProvider, providerTaskId: string): Promise<CancelItem[]>;
  assignProviderTask(taskId: string, positions: readonly number[], providerTaskId: string): Promise<void>;
  /**
   * Settles items. Only pending ones change unless `overwrite`, so the first outcome from any source wins.
   * Returns how many rows changed.
   */
  settle(taskId: string, outcomes: ReadonlyArray<ItemOutcome & { position: number }>, options?: { overwrite?: boolean }): Promise<number>;
  /**
   * Recounts the task from its items and moves its state: `state` when given, else PROCESSING while any item is
   * pending, then TIMEOUT when some item's outcome is unknown, else SUCCEEDED / PARTIAL / FAILED. A task that already
   * left PROCESSING never changes again.
   */
  refresh(taskId: string, state?: CancelTaskState): Promise<CancelTask>;
  /** Takes or renews the run lease; false when another process holds an unexpired one. */
  claim(taskId: string, leaseMs: number, holder?: 'renew'): Promise<boolean>;
  listProcessing(limit: number): Promise<CancelTask[]>;
  /** Tasks still PROCESSING that `starter` (its tenant and `sub`) started, counted up to `limit`. */
  countProcessingOf(starter: { tenant: string | null; actor: string | null }, limit: number): Promise<number>;
  /** Keeps a provider task's result that arrived before any item was assigned to that task (`result` is JSON text). */
  parkEarlyResult(r: { provider: SignProvider; providerTaskId: string; source: string; result: string }): Promise<void>;
  /** Parked results of one provider task, oldest first. */
  earlyResults(provider: SignProvider, providerTaskId: string): Promise<EarlyTaskResult[]>;
  dropEarlyResults(ids: readonly number[]): Promise<void>;
  /** Removes parked results received before `before` (batches this API never started); returns how many. */
  purgeEarlyResults(before: Date): Promise<number>;
}

export interface EarlyTaskResult {
  id: number;
  source: string;
  result: string;
}

/** The `cancel_tasks` table (migration 002). Times are ISO-8601 UTC text; `providers` and `request` are JSON text. */
export interface CancelTasksTable {
  id: string;
  state: string;
  total: number;
  succeeded: number;
  failed: number;
  unknown: number;
  settled: number;
  providers: string;
  request: string;
  deadline_at: string;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
  tenant: string | null;
}

/** The `cancel_items` table: primary key (task_id, position); `settled` and `ok` are 0/1 integers. */
export interface CancelItemsTable {
  task_id: string;
  position: number;
  flow_id: string;
  provider: string;
  provider_flow_id: string;
  settled: number;
  ok: number | null;
  code: string | null;
  reason: string | null;
  provider_task_id: string | null;
  updated_at: string;
}

/** The `early_task_results` table (migration 005). */
export interface EarlyTaskResultsTable {
  id: Generated<number>;
  provider: string;
  provider_task_id: string;
  source: string;
  result: string;
  received_at: string;
}

type Db = Kysely<Database> | Transaction<Database>;

const iso = (d: Date) => d.toISOString();
/** Rows per INSERT: far below both dialects' bound-parameter limits. */
const INSERT_CHUNK = 500;

function toTask(row: Selectable<CancelTasksTable>): CancelTask {
  return {
    id: row.id,
    state: row.state as CancelTaskState,
    total: Number(row.total),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    unknown: Number(row.unknown),
    settled: Number(row.settled),
    providers: JSON.parse(row.providers) as SignProvider[],
    request: JSON.parse(row.request) as CancelRequest,
    deadlineAt: new Date(row.deadline_at),
    leaseUntil: row.lease_until === null ? null : new Date(row.lease_until),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    tenant: row.tenant ?? null,
  };
}

function toItem(row: Selectable<CancelItemsTable>): CancelItem {
  return {
    taskId: row.task_id,
    position: Number(row.position),
    flowId: row.flow_id,
    provider: row.provider as SignProvider,
    providerFlowId: row.provider_flow_id,
    settled: Number(row.settled) === 1,
    ok: row.ok === null ? null : Number(row.ok) === 1,
    code: row.code,
    reason: row.reason,
    providerTaskId: row.provider_task_id,
    updatedAt: new Date(row.updated_at),
  };
}

const okValue = (ok: boolean | null): number | null => (ok === null ? null : ok ? 1 : 0);

export function finalState(succeeded: number, failed: number): CancelTaskState {
  if (failed === 0) return 'SUCCEEDED';
  if (succeeded === 0) return 'FAILED';
  return 'PARTIAL';
}

/** Kysely implementation for both dialects; `SqlStore` builds one per connection or transaction. */
export class SqlCancelTasks implements CancelTaskRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async create(
    task: { id: string; request: CancelRequest; deadlineAt: Date; leaseUntil?: Date | null; tenant?: string | null },
    items: readonly NewCancelItem[],
  ): Promise<CancelTask> {
    const now = iso(new Date());
    const providers = [...new Set(items.map((i) => i.provider))].sort();
    const counts = { succeeded: 0, failed: 0, unknown: 0, settled: 0 };
    for (const { outcome } of items) {
      if (!outcome) continue;
      counts.settled += 1;
      if (outcome.ok === null) counts.unknown += 1;
      else if (outcome.ok) counts.succeeded += 1;
      else counts.failed += 1;
    }
    await this.db
      .insertInto('cancel_tasks')
      .values({
        id: task.id,
        state: 'PROCESSING',
        total: items.length,
        ...counts,
        providers: JSON.stringify(providers),
        request: JSON.stringify(task.request),
        deadline_at: iso(task.deadlineAt),
        lease_until: task.leaseUntil ? iso(task.leaseUntil) : null,
        created_at: now,
        updated_at: now,
        tenant: task.tenant ?? null,
      })
      .execute();
    if (this.dialect === 'postgres') {
      // One statement for any number of items: eight array parameters unnested server-side, several times faster than
      // multi-row VALUES chunks for a 10,000-flow task (the time before its first provider call).
      await sql`
        insert into cancel_items (task_id, position, flow_id, provider, provider_flow_id, settled, ok, code, reason, provider_task_id, updated_at)
        select ${task.id}, t.position, t.flow_id, t.provider, t.provider_flow_id, t.settled, t.ok, t.code, t.reason, null, ${now}
        from unnest(${items.map((_, i) => i)}::integer[], ${items.map((i) => i.flowId)}::text[], ${items.map((i) => i.provider)}::text[],
                    ${items.map((i) => i.providerFlowId)}::text[], ${items.map((i) => (i.outcome ? 1 : 0))}::integer[],
                    ${items.map((i) => (i.outcome ? okValue(i.outcome.ok) : null))}::integer[], ${items.map((i) => i.outcome?.code ?? null)}::text[],
                    ${items.map((i) => i.outcome?.reason ?? null)}::text[])
          as t(position, flow_id, provider, provider_flow_id, settled, ok, code, reason)`.execute(this.db);
      return this.refresh(task.id);
    }
    for (let start = 0; start < items.length; start += INSERT_CHUNK) {
      const rows = items.slice(start, start + INSERT_CHUNK).map((item, i) => ({
        task_id: task.id,
        position: start + i,
        flow_id: item.flowId,
        provider: item.provider,
        provider_flow_id: item.providerFlowId,
        settled: item.outcome ? 1 : 0,
        ok: item.outcome ? okValue(item.outcome.ok) : null,
        code: item.outcome?.code ?? null,
        reason: item.outcome?.reason ?? null,
        provider_task_id: null,
        updated_at: now,
      }));
      await this.db.insertInto('cancel_items').values(rows).execute();
    }
    return this.refresh(task.id);
  }

  async get(id: string): Promise<CancelTask | undefined> {
    const row = await this.db.selectFrom('cancel_tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toTask(row);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, CancelTask>> {
    const found = new Map<string, CancelTask>();
    if (ids.length === 0) return found;
    const rows = await this.db.selectFrom('cancel_tasks').selectAll().where('id', 'in', [...new Set(ids)]).execute();
    for (const row of rows) found.set(row.id, toTask(row));
    return found;
  }

  async lock(id: string): Promise<void> {
    if (this.dialect === 'postgres') {
      await this.db.selectFrom('cancel_tasks').select('id').where('id', '=', id).forUpdate().execute();
    }
  }

  async items(taskId: string, q: { pendingOnly?: boolean; provider?: SignProvider; offset?: number; limit?: number } = {}): Promise<CancelItem[]> {
    let query = this.db.selectFrom('cancel_items').selectAll().where('task_id', '=', taskId);
    if (q.pendingOnly) query = query.where('settled', '=', 0);
    if (q.provider) query = query.where('provider', '=', q.provider);
    // Positions are 0…total-1: a page is a range of them (the primary key), not a scan with OFFSET.
    if (q.offset !== undefined) query = query.where('position', '>=', q.offset);
    if (q.limit !== undefined) query = query.where('position', '<', (q.offset ?? 0) + q.limit);
    const rows = await query.orderBy('position').execute();
    return rows.map(toItem);
  }

  async itemsOfTasks(taskIds: readonly string[]): Promise<Map<string, CancelItem[]>> {
    if (taskIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('cancel_items')
      .selectAll()
      .where('task_id', 'in', [...new Set(taskIds)])
      .orderBy('task_id')
      .orderBy('position')
      .execute();
    return groupBy(rows.map(toItem), (item) => item.taskId);
  }

  async itemsByProviderTask(provider: SignProvider, providerTaskId: string): Promise<CancelItem[]> {
    const rows = await this.db
      .selectFrom('cancel_items')
      .selectAll()
      .where('provider_task_id', '=', providerTaskId)
      .where('provider', '=', provider)
      .orderBy('task_id')
      .orderBy('position')
      .execute();
    return rows.map(toItem);
  }

  async assignProviderTask(taskId: string, positions: readonly number[], providerTaskId: string): Promise<void> {
    if (positions.length === 0) return;
    await this.db
      .updateTable('cancel_items')
      .set({ provider_task_id: providerTaskId, updated_at: iso(new Date()) })
      .where('task_id', '=', taskId)
      .where('position', 'in', [...positions])
      .execute();
  }

  async settle(taskId: string, outcomes: ReadonlyArray<ItemOutcome & { position: number }>, options: { overwrite?: boolean } = {}): Promise<number> {
    const now = iso(new Date());
    let changed = 0;
    // Items with the same outcome (typically a whole chunk cancelled) are settled by one statement.
    const groups = new Map<string, { outcome: ItemOutcome; positions: number[] }>();
    for (const o of outcomes) {
      const key = JSON.stringify([o.ok, o.code ?? null, o.reason ?? null]);
      const group = groups.get(key) ?? { outcome: o, positions: [] };
      group.positions.push(o.position);
      groups.set(key, group);
    }
    const delta = { succeeded: 0, failed: 0, unknown: 0, settled: 0 };
    for (const { outcome, positions } of groups.values()) {
      for (let start = 0; start < positions.length; start += INSERT_CHUNK) {
        let update = this.db
          .updateTable('cancel_items')
          .set({ settled: 1, ok: okValue(outcome.ok), code: outcome.code ?? null, reason: outcome.reason ?? null, updated_at: now })
          .where('task_id', '=', taskId)
          .where('position', 'in', positions.slice(start, start + INSERT_CHUNK));
        if (!options.overwrite) update = update.where('settled', '=', 0);
        const n = Number((await update.executeTakeFirst()).numUpdatedRows);
        if (!options.overwrite) {
          delta.settled += n;
          delta[outcome.ok === null ? 'unknown' : outcome.ok ? 'succeeded' : 'failed'] += n;
        }
        changed += n;
      }
    }
    if (options.overwrite && changed > 0) {
      await this.recount(taskId);
    } else if (delta.settled > 0) {
      // The task's counters move with its items, in the same transaction: no recount over thousands of rows.
      await this.db
        .updateTable('cancel_tasks')
        .set((eb) => ({
          succeeded: eb('succeeded', '+', delta.succeeded),
          failed: eb('failed', '+', delta.failed),
          unknown: eb('unknown', '+', delta.unknown),
          settled: eb('settled', '+', delta.settled),
        }))
        .where('id', '=', taskId)
        .execute();
    }
    return changed;
  }

  async parkEarlyResult(r: { provider: SignProvider; providerTaskId: string; source: string; result: string }): Promise<void> {
    await this.db
      .insertInto('early_task_results')
      .values({ provider: r.provider, provider_task_id: r.providerTaskId, source: r.source, result: r.result, received_at: iso(new Date()) })
      .execute();
  }

  async earlyResults(provider: SignProvider, providerTaskId: string): Promise<EarlyTaskResult[]> {
    const rows = await this.db
      .selectFrom('early_task_results')
      .selectAll()
      .where('provider', '=', provider)
      .where('provider_task_id', '=', providerTaskId)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ id: Number(row.id), source: row.source, result: row.result }));
  }

  async dropEarlyResults(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('early_task_results').where('id', 'in', [...ids]).execute();
  }

  async purgeEarlyResults(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('early_task_results').where('received_at', '<', iso(before)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Counts the items again (after outcomes were overwritten). */
  private async recount(taskId: string): Promise<void> {
    const rows = await this.db
      .selectFrom('cancel_items')
      .select(['settled', 'ok', (eb) => eb.fn.countAll().as('n')])
      .where('task_id', '=', taskId)
      .groupBy(['settled', 'ok'])
      .execute();
    const counts = { succeeded: 0, failed: 0, unknown: 0, settled: 0 };
    for (const row of rows) {
      const n = Number(row.n);
      if (Number(row.settled) === 0) continue;
      counts.settled += n;
      if (row.ok === null) counts.unknown += n;
      else if (Number(row.ok) === 1) counts.succeeded += n;
      else counts.failed += n;
    }
    await this.db.updateTable('cancel_tasks').set(counts).where('id', '=', taskId).execute();
  }

  async refresh(taskId: string, state?: CancelTaskState): Promise<CancelTask> {
    const task = await this.get(taskId);
    if (!task) throw new Error(`cancel task ${taskId} does not exist`);
    if (task.state !== 'PROCESSING') return task;
    // Settled without an outcome only happens when time ran out (ours or the provider's task's).
    const next =
      state ?? (task.settled < task.total ? 'PROCESSING' : task.unknown > 0 ? 'TIMEOUT' : finalState(task.succeeded, task.failed));
    const updatedAt = new Date();
    await this.db.updateTable('cancel_tasks').set({ state: next, updated_at: iso(updatedAt) }).where('id', '=', taskId).where('state', '=', 'PROCESSING').execute();
    return { ...task, state: next, updatedAt };
  }

  async claim(taskId: string, leaseMs: number, holder?: 'renew'): Promise<boolean> {
    const now = new Date();
    let update = this.db
      .updateTable('cancel_tasks')
      .set({ lease_until: iso(new Date(now.getTime() + leaseMs)) })
      .where('id', '=', taskId)
      .where('state', '=', 'PROCESSING');
    if (holder !== 'renew') update = update.where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', iso(now))]));
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async countProcessingOf(starter: { tenant: string | null; actor: string | null }, limit: number): Promise<number> {
    let query = this.db.selectFrom('cancel_tasks').select('request').where('state', '=', 'PROCESSING');
    query = starter.tenant === null ? query.where('tenant', 'is', null) : query.where('tenant', '=', starter.tenant);
    // The starter's `sub` is inside the request JSON; unfinished tasks are few, so they are matched here.
    let count = 0;
    for (const row of await query.execute()) {
      const request = JSON.parse(row.request) as CancelRequest;
      if ((request.actor ?? null) === starter.actor && ++count >= limit) break;
    }
    return count;
  }

  async listProcessing(limit: number): Promise<CancelTask[]> {
    const rows = await this.db
      .selectFrom('cancel_tasks')
      .selectAll()
      .where('state', '=', 'PROCESSING')
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map(toTask);
  }
}
