import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AutoDebitStatus } from '../domain/autodebit';
import type { Database } from './schema';
import type { Dialect } from './types';

/** One auto-debit authorization (Yuansfer), as the store keeps it. */
export interface AutoDebit {
  /** `YUANSFER:<autoDebitNo>` */
  id: string;
  autoDebitNo: string;
  autoReference: string | null;
  /** As the provider names it (`alipay`, `GCASH`, …). */
  vendor: string | null;
  merchantNo: string;
  storeNo: string;
  status: AutoDebitStatus;
  createdAt: Date;
  updatedAt: Date;
  /** Provider extras: the authUrl, terminal, note, token expiry times. */
  data: Record<string, unknown> | null;
  tenant: string | null;
}

export interface AutoDebitWrite {
  id: string;
  autoDebitNo: string;
  status: AutoDebitStatus;
  /** Used when the row is created; an existing row keeps its own. */
  merchantNo: string;
  storeNo: string;
  /** Absent or null: keep what is stored. */
  autoReference?: string | null;
  vendor?: string | null;
  /** Merged key by key over what is stored. */
  data?: Record<string, unknown> | null;
  /** Written when the row is created only. */
  tenant?: string | null;
}

export interface AutoDebitRepository {
  get(id: string): Promise<AutoDebit | undefined>;
  /** One query for any number of ids; the map holds the ones found. */
  getMany(ids: readonly string[]): Promise<Map<string, AutoDebit>>;
  /** Inserts, or updates the mutable fields of, the authorization with `write.id`. */
  save(write: AutoDebitWrite): Promise<AutoDebit>;
}

/** The `auto_debits` table (migration 004). Times are ISO-8601 UTC text, `data` is JSON text. */
export interface AutoDebitsTable {
  id: string;
  auto_debit_no: string;
  auto_reference: string | null;
  vendor: string | null;
  merchant_no: string;
  store_no: string;
  status: string;
  created_at: string;
  updated_at: string;
  data: string | null;
  tenant: string | null;
}

type Db = Kysely<Database> | Transaction<Database>;

function toAutoDebit(row: Selectable<AutoDebitsTable>): AutoDebit {
  return {
    id: row.id,
    autoDebitNo: row.auto_debit_no,
    autoReference: row.auto_reference,
    vendor: row.vendor,
    merchantNo: row.merchant_no,
    storeNo: row.store_no,
    status: row.status as AutoDebitStatus,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    tenant: row.tenant ?? null,
  };
}

/** Kysely implementation for both dialects; `SqlStore` builds one per connection or transaction. */
export class SqlAutoDebits implements AutoDebitRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async get(id: string): Promise<AutoDebit | undefined> {
    const row = await this.db.selectFrom('auto_debits').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAutoDebit(row);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, AutoDebit>> {
    const found = new Map<string, AutoDebit>();
    if (ids.length === 0) return found;
    const rows = await this.db.selectFrom('auto_debits').selectAll().where('id', 'in', [...new Set(ids)]).execute();
    for (const row of rows) found.set(row.id, toAutoDebit(row));
    return found;
  }

  async save(w: AutoDebitWrite): Promise<AutoDebit> {
    const now = new Date().toISOString();
    // `data` merges over the stored object, so a later IPN adding token times keeps the authUrl of the consult.
    // Inside a transaction the row lock (PostgreSQL) or the single writer (SQLite) keeps the merge from losing a
    // concurrent update.
    let select = this.db.selectFrom('auto_debits').selectAll().where('id', '=', w.id);
    if (this.dialect === 'postgres') select = select.forUpdate();
    const found = await select.executeTakeFirst();
    const current = found && toAutoDebit(found);
    const data = w.data ? { ...(current?.data ?? {}), ...w.data } : (current?.data ?? null);
    const row = await this.db
      .insertInto('auto_debits')
      .values({
        id: w.id,
        auto_debit_no: w.autoDebitNo,
        auto_reference: w.autoReference ?? null,
        vendor: w.vendor ?? null,
        merchant_no: w.merchantNo,
        store_no: w.storeNo,
        status: w.status,
        created_at: now,
        updated_at: now,
        data: data === null ? null : JSON.stringify(data),
        tenant: w.tenant ?? null,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          status: w.status,
          auto_reference: (eb) => eb.fn.coalesce('excluded.auto_reference', 'auto_debits.auto_reference'),
          vendor: (eb) => eb.fn.coalesce('excluded.vendor', 'auto_debits.vendor'),
          data: (eb) => eb.fn.coalesce('excluded.data', 'auto_debits.data'),
          updated_at: now,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAutoDebit(row);
  }
}
