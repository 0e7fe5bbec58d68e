import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/**
 * Yuansfer auto-debit authorizations. Their status events go to the shared `events` log (kind 'autodebit') and
 * their IPN receipts to `callback_receipts`, so this is the only new table.
 */
export function autoDebits(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('auto_debits')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('auto_debit_no', 'text', (c) => c.notNull())
        .addColumn('auto_reference', 'text')
        .addColumn('vendor', 'text')
        .addColumn('merchant_no', 'text', (c) => c.notNull())
        .addColumn('store_no', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('data', 'text')
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('auto_debits').execute();
    },
  };
}
