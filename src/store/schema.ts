import type { ColumnType, Generated } from 'kysely';
import type { CancelItemsTable, CancelTasksTable, EarlyTaskResultsTable } from './cancel-tasks';
import type { AutoDebitsTable } from './auto-debits';
import type { LeasesTable, ReconcileStateTable, StoreMetaTable } from './reconcile';
import type { RescissionsTable } from './rescissions';

/**
 * Table shapes as Kysely sees them. Times are ISO-8601 UTC strings in both dialects, so ordering and comparison
 * behave the same on SQLite and PostgreSQL; JSON is stored as text for the same reason.
 */
export interface FlowsTable {
  /** Insertion order; the `signFlows` pagination cursor. */
  seq: Generated<number>;
  id: string;
  provider: string;
  provider_flow_id: string;
  status: string;
  provider_status: string | null;
  file_url: string | null;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
  /** Provider extras (signers, file ids, …) as JSON. */
  data: string | null;
  /** The tenant the flow belongs to (migration 007); null until a tenant creates or first acts on it. */
  tenant: string | null;
}

/** The append-only event log. `id` is strictly increasing in commit order: it is every subscription's cursor. */
export interface EventsTable {
  id: Generated<number>;
  /** What the event is about: 'signflow', 'autodebit', 'canceltask', … */
  kind: string;
  subject_id: string;
  provider: string;
  status: string;
  provider_status: string | null;
  source: string;
  occurred_at: string | null;
  received_at: string;
  data: string | null;
  /** Copied from the subject's row when appended (migration 007). */
  tenant: string | null;
  /** `sub` of the caller whose mutation caused the event; null for callbacks and reads. */
  actor: string | null;
}

/** One row per distinct callback received: the dedupe record for a provider's retries. */
export interface CallbackReceiptsTable {
  provider: string;
  dedupe_key: string;
  event_id: number | null;
  received_at: string;
  body: string;
}

/** Idempotency keys: the first request with a key runs; later ones with the same input replay its result. */
export interface OperationsTable {
  key: string;
  operation: string;
  input_hash: string;
  state: ColumnType<'pending' | 'done', string, string>;
  result: string | null;
  created_at: string;
  updated_at: string;
  /** A pending operation whose lease ran out (its replica died) may be taken over. */
  lease_until: string;
  expires_at: string;
}

export interface Database {
  flows: FlowsTable;
  events: EventsTable;
  callback_receipts: CallbackReceiptsTable;
  operations: OperationsTable;
  cancel_tasks: CancelTasksTable;
  cancel_items: CancelItemsTable;
  early_task_results: EarlyTaskResultsTable;
  rescissions: RescissionsTable;
  auto_debits: AutoDebitsTable;
  leases: LeasesTable;
  reconcile_state: ReconcileStateTable;
  store_meta: StoreMetaTable;
}
