import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/** Retention deletes callback receipts by age (`RECEIPT_RETENTION_DAYS`): an index keeps that from scanning the table. */
export function receiptRetention(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.createIndex('callback_receipts_received_at').on('callback_receipts').column('received_at').execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('callback_receipts_received_at').execute();
    },
  };
}
