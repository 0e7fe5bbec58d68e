import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/**
 * Reconciliation (src/lifecycle/reconcile.ts) and event-log retention. `leases` names the one replica that runs a
 * periodic job; `reconcile_state` remembers, per record, when it was last read and how often reading it failed
 * (exponential backoff); `store_meta` keeps small facts about the store itself, such as the newest event id pruned.
 * The indexes let the stale-record scan and the pruning by age run without reading whole tables.
 */
export function reconcile(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('reconcile_state')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addPrimaryKeyConstraint('reconcile_state_pk', ['kind', 'subject_id'])
        .execute();
      await db.schema
        .createTable('store_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('flows_status_updated').on('flows').columns(['status', 'updated_at']).execute();
      await db.schema.createIndex('rescissions_status_updated').on('rescissions').columns(['status', 'updated_at']).execute();
      await db.schema.createIndex('events_received_at').on('events').column('received_at').execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('events_received_at').execute();
      await db.schema.dropIndex('rescissions_status_updated').execute();
      await db.schema.dropIndex('flows_status_updated').execute();
      await db.schema.dropTable('store_meta').execute();
      await db.schema.dropTable('reconcile_state').execute();
      await db.schema.dropTable('leases').execute();
    },
  };
}
