import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { RescissionReason, RescissionStatus } from '../domain/rescission';
import type { Database } from './schema';
import type { Dialect } from './types';

/** One rescission (e签宝 合同解约) of a completed flow, as the store keeps it. */
export interface Rescission {
  /** `ESIGN:<rescission agreement's flow id>` */
  id: string;
  /** The original flow's API id, `ESIGN:<its flow id>`. */
  signFlowId: string;
  /** The rescission agreement's flow id at e签宝. */
  rescissionFlowId: string;
  fileIds: string[];
  reason: RescissionReason;
  notes: string | null;
  status: RescissionStatus;
  createdAt: Date;
  updatedAt: Date;
  /** Request extras: the initiator, the notify URL, whether the reason is known. */
  data: Record<string, unknown> | null;
  tenant: string | null;
}

export interface RescissionWrite {
  id: string;
  signFlowId: string;
  rescissionFlowId: string;
  status: RescissionStatus;
  /** Absent or null: keep what is stored (a new row starts with none). */
  fileIds?: string[] | null;
  /** Absent or null: keep what is stored (a new row starts with OTHER). */
  reason?: RescissionReason | null;
  notes?: string | null;
  /** Merged key by key over what is stored. */
  data?: Record<string, unknown> | null;
  /** Written when the row is created only. */
  tenant?: string | null;
}

export interface RescissionRepository {
  get(id: string): Promise<Rescission | undefined>;
  /** One query for any number of ids; the map holds the ones found. */
  getMany(ids: readonly string[]): Promise<Map<string, Rescission>>;
  /** Every rescission of each of these original flows, oldest first; flows without one are absent. */
  listBySignFlows(signFlowIds: readonly string[]): Promise<Map<string, Rescission[]>>;
  /**
   * Inserts, or updates, the rescission with `write.id`. The status is the caller's decision, except that a row no
   * longer INITIATED is never moved again: two writers racing cannot undo an outcome.
   */
  save(write: RescissionWrite): Promise<Rescission>;
}

/** The `rescissions` table (migration 003). Times are ISO-8601 UTC text; `file_ids` and `data` are JSON text. */
export interface RescissionsTable {
  id: string;
  sign_flow_id: string;
  rescission_flow_id: string;
  file_ids: string;
  reason: string;
  notes: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  data: string | null;
  tenant: string | null;
}

type Db = Kysely<Database> | Transaction<Database>;

export function toRescission(row: Selectable<RescissionsTable>): Rescission {
  return {
    id: row.id,
    signFlowId: row.sign_flow_id,
    rescissionFlowId: row.rescission_flow_id,
    fileIds: JSON.parse(row.file_ids) as string[],
    reason: row.reason as RescissionReason,
    notes: row.notes,
    status: row.status as RescissionStatus,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    tenant: row.tenant ?? null,
  };
}

/** Kysely implementation for both dialects; `SqlStore` builds one per connection or transaction. */
export class SqlRescissions implements RescissionRepository {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async get(id: string): Promise<Rescission | undefined> {
    const row = await this.db.selectFrom('rescissions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRescission(row);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Rescission>> {
    const found = new Map<string, Rescission>();
    if (ids.length === 0) return found;
    const rows = await this.db.selectFrom('rescissions').selectAll().where('id', 'in', [...new Set(ids)]).execute();
    for (const row of rows) found.set(row.id, toRescission(row));
    return found;
  }

  async listBySignFlows(signFlowIds: readonly string[]): Promise<Map<string, Rescission[]>> {
    const found = new Map<string, Rescission[]>();
    if (signFlowIds.length === 0) return found;
    const rows = await this.db
      .selectFrom('rescissions')
      .selectAll()
      .where('sign_flow_id', 'in', [...new Set(signFlowIds)])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    for (const row of rows) {
      const list = found.get(row.sign_flow_id) ?? [];
      list.push(toRescission(row));
      found.set(row.sign_flow_id, list);
    }
    return found;
  }

  async save(w: RescissionWrite): Promise<Rescission> {
    const now = new Date().toISOString();
    let select = this.db.selectFrom('rescissions').selectAll().where('id', '=', w.id);
    if (this.dialect === 'postgres') select = select.forUpdate();
    const found = await select.executeTakeFirst();
    const current = found && toRescission(found);
    const data = w.data ? { ...(current?.data ?? {}), ...w.data } : (current?.data ?? null);
    const values = {
      sign_flow_id: current?.signFlowId ?? w.signFlowId,
      rescission_flow_id: w.rescissionFlowId,
      file_ids: JSON.stringify(w.fileIds ?? current?.fileIds ?? []),
      reason: w.reason ?? current?.reason ?? 'OTHER',
      notes: w.notes ?? current?.notes ?? null,
      status: w.status,
      data: data === null ? null : JSON.stringify(data),
      updated_at: now,
    };
    const row = await this.db
      .insertInto('rescissions')
      .values({ id: w.id, created_at: now, tenant: w.tenant ?? null, ...values })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          ...values,
          sign_flow_id: (eb) => eb.ref('rescissions.sign_flow_id'),
          status: sql<string>`case when rescissions.status = 'INITIATED' then excluded.status else rescissions.status end`,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRescission(row);
  }
}
