import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/**
 * Batch-cancel tasks (`cancelSignFlows`): one row per task and one per requested flow, keyed by its position in the
 * request so every read returns the items in input order. Progress events go to the shared `events` log (kind
 * 'canceltask').
 */
export function cancelTasks(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('cancel_tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('succeeded', 'integer', (c) => c.notNull())
        .addColumn('failed', 'integer', (c) => c.notNull())
        .addColumn('unknown', 'integer', (c) => c.notNull())
        .addColumn('settled', 'integer', (c) => c.notNull())
        .addColumn('providers', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('deadline_at', 'text', (c) => c.notNull())
        .addColumn('lease_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cancel_tasks_state').on('cancel_tasks').columns(['state', 'created_at']).execute();

      await db.schema
        .createTable('cancel_items')
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('provider_flow_id', 'text', (c) => c.notNull())
        .addColumn('settled', 'integer', (c) => c.notNull())
        .addColumn('ok', 'integer')
        .addColumn('code', 'text')
        .addColumn('reason', 'text')
        .addColumn('provider_task_id', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('cancel_items_pk', ['task_id', 'position'])
        .execute();
      await db.schema.createIndex('cancel_items_provider_task').on('cancel_items').columns(['provider_task_id']).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('cancel_items').execute();
      await db.schema.dropTable('cancel_tasks').execute();
    },
  };
}
