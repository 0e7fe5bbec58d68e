import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import { serialKey, type AnyDb } from './columns';

/**
 * Provider batch-task results that arrived (by callback) before this API had recorded which of its items the
 * provider task carries: the provider can finish a task and call back while the answer to the call that started
 * it is still being stored. Kept until the assignment picks them up, or purged after a day (a batch this API never
 * started).
 */
export function earlyTaskResults(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('early_task_results')
        .addColumn('id', serialKey(dialect), (c) => c.primaryKey())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('provider_task_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('early_task_results_task').on('early_task_results').columns(['provider', 'provider_task_id']).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('early_task_results').execute();
    },
  };
}
