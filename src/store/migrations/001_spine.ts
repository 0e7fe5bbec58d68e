import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import { serialKey, type AnyDb } from './columns';

export function spine(dialect: Dialect): Migration {
  const auto = dialect === 'sqlite';
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('flows')
        .addColumn('seq', serialKey(dialect), (c) => (auto ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('provider_flow_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('provider_status', 'text')
        .addColumn('file_url', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('data', 'text')
        .execute();
      await db.schema.createIndex('flows_provider_status').on('flows').columns(['provider', 'status', 'seq']).execute();
      await db.schema.createIndex('flows_status').on('flows').columns(['status', 'seq']).execute();

      await db.schema
        .createTable('events')
        .addColumn('id', serialKey(dialect), (c) => (auto ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('provider_status', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'text')
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('data', 'text')
        .execute();
      await db.schema.createIndex('events_subject').on('events').columns(['subject_id', 'id']).execute();
      await db.schema.createIndex('events_kind').on('events').columns(['kind', 'id']).execute();

      await db.schema
        .createTable('callback_receipts')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text', (c) => c.notNull())
        .addColumn('event_id', 'bigint')
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('callback_receipts_pk', ['provider', 'dedupe_key'])
        .execute();

      await db.schema
        .createTable('operations')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('input_hash', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('lease_until', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('operations_expiry').on('operations').column('expires_at').execute();
    },
    async down(db: AnyDb) {
      for (const table of ['operations', 'callback_receipts', 'events', 'flows']) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
