import { CompiledQuery, Migrator, sql, type Compilable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { EventSource, SignFlowStatus, SignProvider } from '../domain/model';
import { chunk } from '../util/arrays';
import { SqlAutoDebits, type AutoDebitRepository } from './auto-debits';
import { SqlCancelTasks, type CancelTaskRepository } from './cancel-tasks';
import { CodeMigrations } from './migrations';
import { readMeta, SqlLeases, SqlReconcile, writeMeta, type LeaseRepository, type ReconcileRepository } from './reconcile';
import { SqlRescissions, type RescissionRepository } from './rescissions';
import type { Database, EventsTable, FlowsTable } from './schema';
import type {
  Dialect,
  EventFilter,
  EventKind,
  EventRepository,
  Flow,
  FlowRepository,
  FlowWrite,
  NewEvent,
  OperationClaim,
  OperationRepository,
  ReceiptRepository,
  Store,
  StoredEvent,
} from './types';

type Db = Kysely<Database> | Transaction<Database>;

const iso = (d: Date) => d.toISOString();
const date = (s: string | null) => (s === null ? null : new Date(s));
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
const parseJson = (s: string | null) => (s === null ? null : (JSON.parse(s) as Record<string, unknown>));

export function toFlow(row: Selectable<FlowsTable>): Flow {
  return {
    seq: Number(row.seq),
    id: row.id,
    provider: row.provider as SignProvider,
    providerFlowId: row.provider_flow_id,
    status: row.status as SignFlowStatus,
    providerStatus: row.provider_status,
    fileUrl: row.file_url,
    endedAt: date(row.ended_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    data: parseJson(row.data),
    tenant: row.tenant ?? null,
  };
}

function toEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: Number(row.id),
    kind: row.kind as EventKind,
    subjectId: row.subject_id,
    provider: row.provider,
    status: row.status,
    providerStatus: row.provider_status,
    source: row.source as EventSource,
    occurredAt: date(row.occurred_at),
    receivedAt: new Date(row.received_at),
    data: parseJson(row.data),
    tenant: row.tenant ?? null,
    actor: row.actor ?? null,
  };
}

/** The table holding each kind of event's subject, whose `tenant` the event copies. */
const SUBJECT_TABLES = { signflow: 'flows', autodebit: 'auto_debits', canceltask: 'cancel_tasks', rescission: 'rescissions' } as const;

/** Ids per `in (…)` list on SQLite: well below its bound-parameter limit. */
const SQLITE_IN_CHUNK = 1000;

/**
 * SQL text of the hottest statements (a read's flow and its events page), by dialect and shape: Kysely builds and
 * compiles each shape once, then every later call only binds its values. Building the query tree and compiling it
 * cost about as much as running the statement on SQLite (docs/benchmarks.md, P1). A module-level cache on purpose:
 * the text depends on nothing but the dialect and the shape (like SQLite's own statement cache, which then reuses
 * the prepared statement for the same text).
 */
const SHAPES = new Map<string, string>();

/**
 * Runs the statement `build` makes, with `parameters` bound in the order its text names them. At the first use of a
 * shape the builder's own parameters must equal `parameters`, so a wrong order fails at once, not silently later.
 */
async function runShaped<Row>(db: Db, key: string, build: () => Compilable<Row>, parameters: readonly unknown[]): Promise<Row[]> {
  // Kysely writes `default` for an undefined value, which would change the text under the same shape: values are
  // always given, null when absent.
  if (parameters.includes(undefined)) throw new Error(`statement shape ${key}: an undefined parameter`);
  let text = SHAPES.get(key);
  if (text === undefined) {
    const compiled = build().compile();
    if (compiled.parameters.length !== parameters.length || compiled.parameters.some((p, i) => !sameParameter(p, parameters[i]))) {
      throw new Error(`statement shape ${key}: parameters out of order`);
    }
    text = compiled.sql;
    SHAPES.set(key, text);
  }
  return (await db.executeQuery<Row>(CompiledQuery.raw(text, [...parameters]))).rows;
}

const sameParameter = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((v, i) => v === b[i]) : a === b;

class SqlFlows implements FlowRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async get(id: string): Promise<Flow | undefined> {
    const row = await this.db.selectFrom('flows').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toFlow(row);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Flow>> {
    const found = new Map<string, Flow>();
    if (ids.length === 0) return found;
    const unique = [...new Set(ids)];
    // PostgreSQL takes the ids as one array parameter, however many; SQLite binds each, so it reads in chunks.
    const byIds = (ids: string[]) =>
      this.dialect === 'postgres'
        ? runShaped(this.db, 'flows.getMany:postgres', () => this.db.selectFrom('flows').selectAll().where('id', '=', sql<string>`any(${ids}::text[])`), [ids])
        : runShaped(this.db, `flows.getMany:sqlite:${ids.length}`, () => this.db.selectFrom('flows').selectAll().where('id', 'in', ids), ids);
    const rows = this.dialect === 'postgres' ? await byIds(unique) : (await Promise.all(chunk(unique, SQLITE_IN_CHUNK).map(byIds))).flat();
    for (const row of rows) found.set(row.id, toFlow(row));
    return found;
  }

  async save(w: FlowWrite): Promise<Flow> {
    const now = iso(new Date());
    const values = {
      status: w.status,
      provider_status: w.providerStatus ?? null,
      file_url: w.fileUrl ?? null,
      ended_at: w.endedAt ? iso(w.endedAt) : null,
      data: json(w.data),
      updated_at: now,
    };
    const row = await this.db
      .insertInto('flows')
      .values({ id: w.id, provider: w.provider, provider_flow_id: w.providerFlowId, created_at: now, tenant: w.tenant ?? null, ...values })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          status: values.status,
          provider_status: (eb) => eb.fn.coalesce('excluded.provider_status', 'flows.provider_status'),
          file_url: (eb) => eb.fn.coalesce('excluded.file_url', 'flows.file_url'),
          ended_at: (eb) => eb.fn.coalesce('excluded.ended_at', 'flows.ended_at'),
          data: (eb) => eb.fn.coalesce('excluded.data', 'flows.data'),
          updated_at: now,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFlow(row);
  }

  async saveMany(writes: readonly FlowWrite[]): Promise<Flow[]> {
    const now = iso(new Date());
    const saved: Flow[] = [];
    for (let start = 0; start < writes.length; start += BULK_ROWS) {
      const rows = writes.slice(start, start + BULK_ROWS).map((w) => ({
        id: w.id,
        provider: w.provider,
        provider_flow_id: w.providerFlowId,
        created_at: now,
        status: w.status,
        provider_status: w.providerStatus ?? null,
        file_url: w.fileUrl ?? null,
        ended_at: w.endedAt ? iso(w.endedAt) : null,
        data: json(w.data),
        updated_at: now,
        tenant: w.tenant ?? null,
      }));
      const build = () =>
        this.db
          .insertInto('flows')
          .values(rows)
          .onConflict((oc) =>
            oc.column('id').doUpdateSet({
              status: (eb) => eb.ref('excluded.status'),
              provider_status: (eb) => eb.fn.coalesce('excluded.provider_status', 'flows.provider_status'),
              file_url: (eb) => eb.fn.coalesce('excluded.file_url', 'flows.file_url'),
              ended_at: (eb) => eb.fn.coalesce('excluded.ended_at', 'flows.ended_at'),
              data: (eb) => eb.fn.coalesce('excluded.data', 'flows.data'),
              updated_at: now,
            }),
          )
          .returningAll();
      // A batch of callbacks is this statement with one row each: built once per row count.
      const parameters = [...rows.flatMap((r) => Object.values(r)), now];
      for (const row of await runShaped(this.db, `flows.saveMany:${this.dialect}:${rows.length}`, build, parameters)) saved.push(toFlow(row));
    }
    return saved;
  }

  async list(q: { provider?: SignProvider; status?: SignFlowStatus; after?: number; first: number; tenant?: { tenant: string | null } }): Promise<Flow[]> {
    let query = this.db.selectFrom('flows').selectAll();
    if (q.tenant) query = q.tenant.tenant === null ? query.where('tenant', 'is', null) : query.where('tenant', '=', q.tenant.tenant);
    if (q.provider) query = query.where('provider', '=', q.provider);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.after !== undefined) query = query.where('seq', '>', q.after);
    const rows = await query.orderBy('seq').limit(q.first).execute();
    return rows.map(toFlow);
  }
}

/** Rows per multi-row statement: far below both dialects' bound-parameter limits. */
const BULK_ROWS = 500;

/**
 * Arbitrary constant naming the advisory lock that orders event-log commits on PostgreSQL; paired with the schema,
 * so deployments sharing one database in different schemas do not serialize each other's commits.
 */
const EVENT_LOG_LOCK = 720_011;

class SqlEvents implements EventRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async append(e: NewEvent): Promise<StoredEvent> {
    const [stored] = await this.appendMany([e]);
    return stored;
  }

  async lock(): Promise<void> {
    if (this.dialect === 'postgres') {
      // Sequence values are handed out at insert time but become visible at commit time; two concurrent
      // transactions could commit 8 after 9 and a reader that already moved its cursor to 9 would never see 8.
      // Holding this lock until commit makes ids visible in increasing order, so cursors never skip an event.
      // Re-taking it in the same transaction is free (advisory locks stack).
      await sql`select pg_advisory_xact_lock(${EVENT_LOG_LOCK}, hashtext(current_schema()))`.execute(this.db);
    }
  }

  async appendMany(events: readonly NewEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    await this.lock();
    const stored: StoredEvent[] = [];
    for (let start = 0; start < events.length; start += BULK_ROWS) {
      const slice = events.slice(start, start + BULK_ROWS);
      const values = slice.map((e) => ({
        kind: e.kind,
        subject_id: e.subjectId,
        provider: e.provider,
        status: e.status,
        provider_status: e.providerStatus ?? null,
        source: e.source,
        occurred_at: e.occurredAt ? iso(e.occurredAt) : null,
        received_at: iso(e.receivedAt ?? new Date()),
        data: json(e.data),
        actor: e.actor ?? null,
      }));
      const build = () =>
        this.db
          .insertInto('events')
          .values(
            values.map((v, i) => ({
              ...v,
              tenant: (eb) => eb.selectFrom(SUBJECT_TABLES[slice[i]!.kind]).select('tenant').where('id', '=', slice[i]!.subjectId),
            })),
          )
          .returningAll();
      // The tenant subquery names its subject's table, so the kinds are part of the shape.
      const shape = slice.length === 1 || slice.every((e) => e.kind === slice[0]!.kind) ? `${slice[0]!.kind}*${slice.length}` : slice.map((e) => e.kind).join(',');
      const parameters = values.flatMap((v, i) => [...Object.values(v), slice[i]!.subjectId]);
      const rows = await runShaped(this.db, `events.appendMany:${this.dialect}:${shape}`, build, parameters);
      stored.push(...rows.map(toEvent).sort((a, b) => a.id - b.id));
    }
    return stored;
  }

  async listAfter(after: number, filter: EventFilter, limit: number): Promise<StoredEvent[]> {
    let query = this.db.selectFrom('events').selectAll().where('id', '>', after);
    if (filter.kinds && filter.kinds.length > 0) query = query.where('kind', 'in', [...filter.kinds]);
    if (filter.subjectIds && filter.subjectIds.length > 0) query = query.where('subject_id', 'in', [...filter.subjectIds]);
    if (filter.provider) query = query.where('provider', '=', filter.provider);
    if (filter.tenant) query = filter.tenant.tenant === null ? query.where('tenant', 'is', null) : query.where('tenant', '=', filter.tenant.tenant);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map(toEvent);
  }

  async listForSubjects(kind: EventKind, subjectIds: readonly string[], q: { after: number; limit: number }): Promise<Map<string, StoredEvent[]>> {
    const found = new Map<string, StoredEvent[]>();
    const unique = [...new Set(subjectIds)];
    if (unique.length === 0 || q.limit <= 0) return found;
    const page = (ids: readonly string[]) => {
      const list = [...ids];
      const build = () => {
        const ranked = this.db
          .selectFrom('events')
          .selectAll()
          .select(sql<number>`row_number() over (partition by subject_id order by id)`.as('rank'))
          .where('kind', '=', kind)
          .where('id', '>', q.after);
        const inList = this.dialect === 'postgres' ? ranked.where('subject_id', '=', sql<string>`any(${list}::text[])`) : ranked.where('subject_id', 'in', list);
        return this.db.selectFrom(inList.as('ranked')).selectAll().where('rank', '<=', q.limit).orderBy('id');
      };
      return this.dialect === 'postgres'
        ? runShaped(this.db, 'events.listForSubjects:postgres', build, [kind, q.after, list, q.limit])
        : runShaped(this.db, `events.listForSubjects:sqlite:${list.length}`, build, [kind, q.after, ...list, q.limit]);
    };
    const rows = this.dialect === 'postgres' ? await page(unique) : (await Promise.all(chunk(unique, SQLITE_IN_CHUNK).map(page))).flat();
    for (const row of rows) {
      const event = toEvent(row);
      const list = found.get(event.subjectId);
      if (list) list.push(event);
      else found.set(event.subjectId, [event]);
    }
    for (const list of found.values()) list.sort((a, b) => a.id - b.id);
    return found;
  }

  async latestId(): Promise<number> {
    const row = await this.db.selectFrom('events').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  async purgeOlderThan(before: Date): Promise<number> {
    // Up to the newest event received before the cutoff, by id: the log stays contiguous, so "below the watermark"
    // is exactly "pruned" for every cursor.
    const newest = await this.db.selectFrom('events').select((eb) => eb.fn.max('id').as('max')).where('received_at', '<', iso(before)).executeTakeFirst();
    const through = Number(newest?.max ?? 0);
    if (through <= (await this.prunedThrough())) return 0;
    const run = async (db: Db) => {
      await writeMeta(db, EVENTS_PRUNED_THROUGH, String(through));
      const result = await db.deleteFrom('events').where('id', '<=', through).executeTakeFirst();
      return Number(result.numDeletedRows);
    };
    return this.db.isTransaction ? run(this.db) : (this.db as Kysely<Database>).transaction().execute(run);
  }

  async prunedThrough(): Promise<number> {
    return Number((await readMeta(this.db, EVENTS_PRUNED_THROUGH)) ?? 0);
  }
}

/** store_meta key: the newest event id deleted by retention. */
const EVENTS_PRUNED_THROUGH = 'events_pruned_through';

class SqlReceipts implements ReceiptRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async insert(r: { provider: string; dedupeKey: string; body: string; eventId?: number | null }): Promise<boolean> {
    const inserted = await this.db
      .insertInto('callback_receipts')
      .values({
        provider: r.provider,
        dedupe_key: r.dedupeKey,
        body: r.body,
        event_id: r.eventId ?? null,
        received_at: iso(new Date()),
      })
      .onConflict((oc) => oc.columns(['provider', 'dedupe_key']).doNothing())
      .returning('dedupe_key')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async insertMany(rs: readonly { provider: string; dedupeKey: string; body: string }[]): Promise<Set<string>> {
    const fresh = new Set<string>();
    const receivedAt = iso(new Date());
    for (let start = 0; start < rs.length; start += BULK_ROWS) {
      const values = rs.slice(start, start + BULK_ROWS).map((r) => ({ provider: r.provider, dedupe_key: r.dedupeKey, body: r.body, event_id: null, received_at: receivedAt }));
      const build = () =>
        this.db
          .insertInto('callback_receipts')
          .values(values)
          .onConflict((oc) => oc.columns(['provider', 'dedupe_key']).doNothing())
          .returning(['provider', 'dedupe_key']);
      const rows = await runShaped(this.db, `receipts.insertMany:${this.dialect}:${values.length}`, build, values.flatMap((v) => Object.values(v)));
      for (const row of rows) fresh.add(`${row.provider}|${row.dedupe_key}`);
    }
    return fresh;
  }

  async linkEvents(links: readonly { provider: string; dedupeKey: string; eventId: number }[]): Promise<void> {
    for (let start = 0; start < links.length; start += BULK_ROWS) {
      // One UPDATE … FROM over a derived table of (provider, key, event) rows; both dialects accept this form.
      const rows = sql.join(
        links.slice(start, start + BULK_ROWS).map((l) => sql`select ${l.provider} as provider, ${l.dedupeKey} as dedupe_key, cast(${l.eventId} as bigint) as event_id`),
        sql` union all `,
      );
      await sql`update callback_receipts set event_id = v.event_id from (${rows}) as v
        where callback_receipts.provider = v.provider and callback_receipts.dedupe_key = v.dedupe_key`.execute(this.db);
    }
  }

  async linkEvent(provider: string, dedupeKey: string, eventId: number): Promise<void> {
    await this.db
      .updateTable('callback_receipts')
      .set({ event_id: eventId })
      .where('provider', '=', provider)
      .where('dedupe_key', '=', dedupeKey)
      .execute();
  }

  async purgeOlderThan(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('callback_receipts').where('received_at', '<', iso(before)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async count(provider?: string): Promise<number> {
    let query = this.db.selectFrom('callback_receipts').select((eb) => eb.fn.countAll().as('n'));
    if (provider) query = query.where('provider', '=', provider);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

class SqlOperations implements OperationRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async claim(q: { key: string; operation: string; inputHash: string; leaseMs: number; ttlMs: number; now?: number }): Promise<OperationClaim> {
    const now = q.now ?? Date.now();
    const fresh = {
      operation: q.operation,
      input_hash: q.inputHash,
      state: 'pending' as const,
      result: null,
      updated_at: iso(new Date(now)),
      lease_until: iso(new Date(now + q.leaseMs)),
      expires_at: iso(new Date(now + q.ttlMs)),
    };
    const inserted = await this.db
      .insertInto('operations')
      .values({ key: q.key, created_at: fresh.updated_at, ...fresh })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted) return { state: 'claimed' };

    let select = this.db.selectFrom('operations').selectAll().where('key', '=', q.key);
    if (this.dialect === 'postgres') select = select.forUpdate();
    const row = await select.executeTakeFirst();
    if (!row || Date.parse(row.expires_at) <= now) {
      await this.db.deleteFrom('operations').where('key', '=', q.key).execute();
      return this.claim(q);
    }
    if (row.operation !== q.operation || row.input_hash !== q.inputHash) {
      return { state: 'mismatch', operation: row.operation };
    }
    if (row.state === 'done') return { state: 'done', result: row.result === null ? null : JSON.parse(row.result) };
    if (Date.parse(row.lease_until) <= now) {
      // The request that held the key died (its replica crashed); take over.
      await this.db.updateTable('operations').set({ lease_until: fresh.lease_until }).where('key', '=', q.key).execute();
      return { state: 'claimed' };
    }
    return { state: 'pending' };
  }

  async complete(key: string, result: unknown): Promise<void> {
    await this.db
      .updateTable('operations')
      .set({ state: 'done', result: JSON.stringify(result ?? null), updated_at: iso(new Date()) })
      .where('key', '=', key)
      .execute();
  }

  async release(key: string): Promise<void> {
    await this.db.deleteFrom('operations').where('key', '=', key).where('state', '=', 'pending').execute();
  }

  async purgeExpired(now = new Date()): Promise<number> {
    const result = await this.db.deleteFrom('operations').where('expires_at', '<=', iso(now)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The Kysely implementation of {@link Store}; SQLite and PostgreSQL differ only in the dialect handed in. */
export class SqlStore implements Store {
  readonly flows: FlowRepository;
  readonly events: EventRepository;
  readonly receipts: ReceiptRepository;
  readonly operations: OperationRepository;
  readonly cancelTasks: CancelTaskRepository;
  readonly rescissions: RescissionRepository;
  readonly autoDebits: AutoDebitRepository;
  readonly leases: LeaseRepository;
  readonly reconcile: ReconcileRepository;

  constructor(
    readonly db: Db,
    readonly dialect: Dialect,
    private readonly inTransaction = false,
  ) {
    this.flows = new SqlFlows(db, dialect);
    this.events = new SqlEvents(db, dialect);
    this.receipts = new SqlReceipts(db, dialect);
    this.operations = new SqlOperations(db, dialect);
    this.cancelTasks = new SqlCancelTasks(db, dialect);
    this.rescissions = new SqlRescissions(db, dialect);
    this.autoDebits = new SqlAutoDebits(db, dialect);
    this.leases = new SqlLeases(db);
    this.reconcile = new SqlReconcile(db);
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return (this.db as Kysely<Database>).transaction().execute((trx) => fn(new SqlStore(trx, this.dialect, true)));
  }

  async claimTenant(kind: EventKind, ids: readonly string[], tenant: string): Promise<Map<string, string | null>> {
    const table = SUBJECT_TABLES[kind];
    return this.transaction(async (tx) => {
      const db = (tx as SqlStore).db;
      // Log lock first, like every event writer (EventRepository.lock): the records' events move with them.
      await tx.events.lock();
      const after = new Map<string, string | null>();
      for (const part of chunk([...new Set(ids)], SQLITE_IN_CHUNK)) {
        await db.updateTable(table).set({ tenant }).where('id', 'in', part).where('tenant', 'is', null).execute();
        await db.updateTable('events').set({ tenant }).where('kind', '=', kind).where('subject_id', 'in', part).where('tenant', 'is', null).execute();
        const rows = await db.selectFrom(table).select(['id', 'tenant']).where('id', 'in', part).execute();
        for (const row of rows) after.set(row.id, row.tenant ?? null);
      }
      return after;
    });
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async migrate(): Promise<void> {
    // Kysely looks for its bookkeeping tables in every schema it can see; naming the current one keeps two
    // deployments sharing a PostgreSQL database under different search_paths from reading each other's.
    let migrationTableSchema: string | undefined;
    if (this.dialect === 'postgres') {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(this.db);
      migrationTableSchema = rows[0]?.schema;
    }
    const migrator = new Migrator({
      db: this.db as Kysely<Database>,
      provider: new CodeMigrations(this.dialect),
      migrationTableSchema,
      // Feature migrations are independent of each other; a database that already ran a later-numbered one must
      // still accept an earlier-numbered one added afterwards.
      allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new Error(`migration ${failed ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async close(): Promise<void> {
    await (this.db as Kysely<Database>).destroy();
  }
}
