import type { EventSource, SignFlowStatus, SignProvider } from '../domain/model';
import type { CancelTaskRepository } from './cancel-tasks';
import type { AutoDebitRepository } from './auto-debits';
import type { LeaseRepository, ReconcileRepository } from './reconcile';
import type { RescissionRepository } from './rescissions';

export type Dialect = 'sqlite' | 'postgres';

export interface Flow {
  seq: number;
  id: string;
  provider: SignProvider;
  providerFlowId: string;
  status: SignFlowStatus;
  providerStatus: string | null;
  fileUrl: string | null;
  endedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  data: Record<string, unknown> | null;
  /** The tenant the flow belongs to; null while no tenant owns it (docs/security.md, "Tenancy"). */
  tenant: string | null;
}

export interface FlowWrite {
  id: string;
  provider: SignProvider;
  providerFlowId: string;
  status: SignFlowStatus;
  providerStatus?: string | null;
  fileUrl?: string | null;
  endedAt?: Date | null;
  data?: Record<string, unknown> | null;
  /** Written when the row is created, never changed by a save: only {@link Store.claimTenant} gives an owner later. */
  tenant?: string | null;
}

export type EventKind = 'signflow' | 'autodebit' | 'canceltask' | 'rescission';

export interface StoredEvent {
  id: number;
  kind: EventKind;
  subjectId: string;
  provider: string;
  status: string;
  providerStatus: string | null;
  source: EventSource;
  occurredAt: Date | null;
  receivedAt: Date;
  data: Record<string, unknown> | null;
  /** The subject's tenant when the event was appended (and after a claim). */
  tenant: string | null;
  /** `sub` of the caller whose mutation caused it; null for callbacks and reads. */
  actor: string | null;
}

/** The tenant is not given: the store copies it from the subject's row, so an event is never filed elsewhere. */
export type NewEvent = Omit<StoredEvent, 'id' | 'receivedAt' | 'tenant' | 'actor'> & { receivedAt?: Date; actor?: string | null };

export interface EventFilter {
  kinds?: readonly EventKind[];
  subjectIds?: readonly string[];
  provider?: string;
  /** Only events of this tenant (null: of no tenant); absent: every tenant's. */
  tenant?: { tenant: string | null };
}

export type OperationClaim =
  | { state: 'claimed' }
  | { state: 'done'; result: unknown }
  | { state: 'pending' }
  | { state: 'mismatch'; operation: string };

export interface FlowRepository {
  get(id: string): Promise<Flow | undefined>;
  /** Any number of ids (one query on PostgreSQL, chunks of 1,000 on SQLite); the map holds the ones found. */
  getMany(ids: readonly string[]): Promise<Map<string, Flow>>;
  /** Inserts, or updates the mutable fields of, the flow with `write.id`. */
  save(write: FlowWrite): Promise<Flow>;
  /**
   * `save` for many flows in one statement per few hundred (batch outcomes); `status` is written as given. At most
   * one write per id. Returns the rows as saved, in no particular order.
   */
  saveMany(writes: readonly FlowWrite[]): Promise<Flow[]>;
  /** Insertion order; `after` is the `seq` of the last flow of the previous page. */
  list(q: { provider?: SignProvider; status?: SignFlowStatus; after?: number; first: number; tenant?: { tenant: string | null } }): Promise<Flow[]>;
}

export interface EventRepository {
  /** Must run inside a transaction; ids become visible in increasing order (see the PostgreSQL dialect). */
  append(event: NewEvent): Promise<StoredEvent>;
  /** `append` for many events in one statement per few hundred, ids in the order given. Same transaction rule. */
  appendMany(events: readonly NewEvent[]): Promise<StoredEvent[]>;
  /**
   * Takes the event log's writer lock for the rest of the transaction (PostgreSQL; SQLite has one writer anyway).
   * A transaction that will append events after locking rows other writers touch must call this first: writers
   * then queue on the log lock before taking any row lock, so they cannot deadlock each other.
   */
  lock(): Promise<void>;
  /** Events with id > after, oldest first. */
  listAfter(after: number, filter: EventFilter, limit: number): Promise<StoredEvent[]>;
  /**
   * For each subject, its first `limit` events of `kind` with id > after, oldest first: one query for any number of
   * subjects (ROW_NUMBER() per subject; SQLite in chunks of its parameter limit). Subjects without events are absent.
   */
  listForSubjects(kind: EventKind, subjectIds: readonly string[], q: { after: number; limit: number }): Promise<Map<string, StoredEvent[]>>;
  /** The newest id, 0 when the log is empty. */
  latestId(): Promise<number>;
  /**
   * Deletes the events received before `before` (`EVENT_RETENTION_DAYS`), always a prefix of the log, and remembers
   * the newest id deleted; returns how many.
   */
  purgeOlderThan(before: Date): Promise<number>;
  /** The newest event id ever pruned, 0 when none was: a cursor below it points into the pruned part of the log. */
  prunedThrough(): Promise<number>;
}

export interface ReceiptRepository {
  /** False when this (provider, key) was already received: the callback is a retry. */
  insert(r: { provider: string; dedupeKey: string; body: string; eventId?: number | null }): Promise<boolean>;
  /**
   * `insert` for many receipts in one statement per few hundred; returns the ones that were new, as
   * `provider|dedupeKey`. Receipts with the same provider and key in one call: only the first can be new.
   */
  insertMany(rs: readonly { provider: string; dedupeKey: string; body: string }[]): Promise<Set<string>>;
  linkEvent(provider: string, dedupeKey: string, eventId: number): Promise<void>;
  /** `linkEvent` for many receipts in one statement per few hundred. */
  linkEvents(links: readonly { provider: string; dedupeKey: string; eventId: number }[]): Promise<void>;
  count(provider?: string): Promise<number>;
  /**
   * Deletes receipts received before `before`; returns how many. A provider retry arriving after its receipt is gone
   * is handled again, which changes nothing: statuses only move forward and settled items stay settled.
   */
  purgeOlderThan(before: Date): Promise<number>;
}

export interface OperationRepository {
  /**
   * Claims an idempotency key for one run of `operation` with `inputHash`. `claimed`: the caller runs the operation
   * and must `complete` or `release`; `done`: replay `result`; `pending`: another request holds it (retry later);
   * `mismatch`: the key was used for a different input.
   */
  claim(q: { key: string; operation: string; inputHash: string; leaseMs: number; ttlMs: number; now?: number }): Promise<OperationClaim>;
  complete(key: string, result: unknown): Promise<void>;
  release(key: string): Promise<void>;
  purgeExpired(now?: Date): Promise<number>;
}

/**
 * The repository interface every store implements. Feature repositories hang off it; `transaction` hands the
 * callback a Store whose repositories all write in that one transaction.
 */
export interface Store {
  readonly dialect: Dialect;
  readonly flows: FlowRepository;
  readonly events: EventRepository;
  readonly receipts: ReceiptRepository;
  readonly operations: OperationRepository;
  readonly cancelTasks: CancelTaskRepository;
  readonly rescissions: RescissionRepository;
  readonly autoDebits: AutoDebitRepository;
  readonly leases: LeaseRepository;
  readonly reconcile: ReconcileRepository;
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Gives records without a tenant to `tenant` (and files their past events under it); a record that already has one
   * keeps it. Returns each found record's tenant afterwards.
   */
  claimTenant(kind: EventKind, ids: readonly string[], tenant: string): Promise<Map<string, string | null>>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
