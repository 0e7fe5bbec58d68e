import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/**
 * e签宝 rescissions. Their status events go to the shared `events` log (kind 'rescission') and their callback
 * receipts to `callback_receipts`, so this is the only new table.
 */
export function rescissions(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('rescissions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sign_flow_id', 'text', (c) => c.notNull())
        .addColumn('rescission_flow_id', 'text', (c) => c.notNull())
        .addColumn('file_ids', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('notes', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('data', 'text')
        .execute();
      await db.schema.createIndex('rescissions_sign_flow').on('rescissions').columns(['sign_flow_id', 'created_at']).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('rescissions').execute();
    },
  };
}
