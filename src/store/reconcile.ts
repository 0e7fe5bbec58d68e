import type { Kysely, Transaction } from 'kysely';
import type { SignFlowStatus, SignProvider } from '../domain/model';
import type { Rescission } from './rescissions';
import { toRescission } from './rescissions';
import type { Database } from './schema';
import { toFlow } from './sql-store';
import type { Flow } from './types';

/** A named lease: the one holder that runs a periodic job until `expires_at`, renewed while it runs. */
export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

/** When a record is next due for a read from its provider, and how many reads in a row failed. */
export interface ReconcileStateTable {
  /** 'signflow' | 'rescission' */
  kind: string;
  subject_id: string;
  attempts: number;
  next_at: string;
  last_error: string | null;
}

/** Small facts about the store itself (key → value), e.g. `events_pruned_through`. */
export interface StoreMetaTable {
  key: string;
  value: string;
}

export type ReconcileKind = 'signflow' | 'rescission';

/** A record due for a read, with the number of reads of it that failed in a row so far. */
export interface Due<T> {
  record: T;
  attempts: number;
}

export interface LeaseRepository {
  /**
   * Takes the lease `name` for `holder` until `now + ttlMs`, or extends it when `holder` already has it. False when
   * another holder's lease has not expired. Atomic: of two replicas asking at once, one gets it.
   */
  acquire(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean>;
  /** Gives the lease up (only when `holder` has it), so another replica may take it at once. */
  release(name: string, holder: string): Promise<void>;
}

export interface ReconcileRepository {
  /**
   * Flows of `provider` in one of `statuses`, last updated before `updatedBefore`, whose next read is due at `now`
   * (never read, or their backoff has passed); the least recently updated first.
   */
  dueFlows(q: { provider: SignProvider; statuses: readonly SignFlowStatus[]; updatedBefore: Date; now: Date; limit: number }): Promise<Due<Flow>[]>;
  /** INITIATED rescissions last updated before `updatedBefore` whose next read is due at `now`. */
  dueRescissions(q: { updatedBefore: Date; now: Date; limit: number }): Promise<Due<Rescission>[]>;
  /** Read fine: next due at `nextAt`, failures forgotten. */
  checked(kind: ReconcileKind, ids: readonly string[], nextAt: Date): Promise<void>;
  /** A read failed for the `attempts`-th time in a row: next due at `nextAt`. */
  failed(kind: ReconcileKind, id: string, attempts: number, nextAt: Date, error: string): Promise<void>;
  /** Forgets records that need no more reads (they changed and are settled). */
  forget(kind: ReconcileKind, ids: readonly string[]): Promise<void>;
  /** Deletes state not looked at since `before` (records no longer read); returns how many rows. */
  purgeIdle(before: Date): Promise<number>;
  state(kind: ReconcileKind, id: string): Promise<{ attempts: number; nextAt: Date; lastError: string | null } | undefined>;
}

type Db = Kysely<Database> | Transaction<Database>;
const iso = (d: Date) => d.toISOString();

/** Leases in the store itself: SQLite and PostgreSQL alike, one upsert that only succeeds for the rightful holder. */
export class SqlLeases implements LeaseRepository {
  constructor(private readonly db: Db) {}

  async acquire(name: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    const row = await this.db
      .insertInto('leases')
      .values({ name, holder, expires_at: iso(new Date(now + ttlMs)) })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder: (eb) => eb.ref('excluded.holder'), expires_at: (eb) => eb.ref('excluded.expires_at') })
          // Taken over only from itself or from a holder whose time ran out (it died or stopped renewing).
          .where((eb) => eb.or([eb('leases.holder', '=', holder), eb('leases.expires_at', '<', iso(new Date(now)))])),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
  }
}

export class SqlReconcile implements ReconcileRepository {
  constructor(private readonly db: Db) {}

  async dueFlows(q: { provider: SignProvider; statuses: readonly SignFlowStatus[]; updatedBefore: Date; now: Date; limit: number }): Promise<Due<Flow>[]> {
    if (q.statuses.length === 0 || q.limit <= 0) return [];
    const rows = await this.db
      .selectFrom('flows')
      .leftJoin('reconcile_state as rs', (join) => join.onRef('rs.subject_id', '=', 'flows.id').on('rs.kind', '=', 'signflow'))
      .selectAll('flows')
      .select('rs.attempts')
      .where('flows.provider', '=', q.provider)
      .where('flows.status', 'in', [...q.statuses])
      .where('flows.updated_at', '<', iso(q.updatedBefore))
      .where((eb) => eb.or([eb('rs.next_at', 'is', null), eb('rs.next_at', '<=', iso(q.now))]))
      .orderBy('flows.updated_at')
      .limit(q.limit)
      .execute();
    return rows.map(({ attempts, ...row }) => ({ record: toFlow(row), attempts: Number(attempts ?? 0) }));
  }

  async dueRescissions(q: { updatedBefore: Date; now: Date; limit: number }): Promise<Due<Rescission>[]> {
    if (q.limit <= 0) return [];
    const rows = await this.db
      .selectFrom('rescissions')
      .leftJoin('reconcile_state as rs', (join) => join.onRef('rs.subject_id', '=', 'rescissions.id').on('rs.kind', '=', 'rescission'))
      .selectAll('rescissions')
      .select('rs.attempts')
      .where('rescissions.status', '=', 'INITIATED')
      .where('rescissions.updated_at', '<', iso(q.updatedBefore))
      .where((eb) => eb.or([eb('rs.next_at', 'is', null), eb('rs.next_at', '<=', iso(q.now))]))
      .orderBy('rescissions.updated_at')
      .limit(q.limit)
      .execute();
    return rows.map(({ attempts, ...row }) => ({ record: toRescission(row), attempts: Number(attempts ?? 0) }));
  }

  async checked(kind: ReconcileKind, ids: readonly string[], nextAt: Date): Promise<void> {
    const unique = [...new Set(ids)];
    for (let start = 0; start < unique.length; start += 500) {
      await this.db
        .insertInto('reconcile_state')
        .values(unique.slice(start, start + 500).map((id) => ({ kind, subject_id: id, attempts: 0, next_at: iso(nextAt), last_error: null })))
        .onConflict((oc) => oc.columns(['kind', 'subject_id']).doUpdateSet({ attempts: 0, next_at: iso(nextAt), last_error: null }))
        .execute();
    }
  }

  async failed(kind: ReconcileKind, id: string, attempts: number, nextAt: Date, error: string): Promise<void> {
    const values = { attempts, next_at: iso(nextAt), last_error: error.slice(0, 500) };
    await this.db
      .insertInto('reconcile_state')
      .values({ kind, subject_id: id, ...values })
      .onConflict((oc) => oc.columns(['kind', 'subject_id']).doUpdateSet(values))
      .execute();
  }

  async forget(kind: ReconcileKind, ids: readonly string[]): Promise<void> {
    const unique = [...new Set(ids)];
    for (let start = 0; start < unique.length; start += 500) {
      await this.db.deleteFrom('reconcile_state').where('kind', '=', kind).where('subject_id', 'in', unique.slice(start, start + 500)).execute();
    }
  }

  async purgeIdle(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('reconcile_state').where('next_at', '<', iso(before)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async state(kind: ReconcileKind, id: string): Promise<{ attempts: number; nextAt: Date; lastError: string | null } | undefined> {
    const row = await this.db.selectFrom('reconcile_state').selectAll().where('kind', '=', kind).where('subject_id', '=', id).executeTakeFirst();
    return row && { attempts: Number(row.attempts), nextAt: new Date(row.next_at), lastError: row.last_error };
  }
}

/** Reads and writes `store_meta` (tiny, so a plain upsert is enough). */
export async function readMeta(db: Db, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('store_meta').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function writeMeta(db: Db, key: string, value: string): Promise<void> {
  await db
    .insertInto('store_meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}
