import type { Migration } from 'kysely';
import type { Dialect } from '../types';
import type { AnyDb } from './columns';

/** Tables whose rows belong to a tenant (docs/security.md, "Tenancy"). */
const OWNED = ['flows', 'cancel_tasks', 'rescissions', 'auto_debits'] as const;

/**
 * Tenancy and audit. Every record (and every event, copied from its subject when appended, so subscriptions and
 * replays filter in SQL) carries the tenant it belongs to, null for records no tenant owns yet; events carry the
 * `sub` of the caller whose mutation caused them.
 */
export function tenancy(_dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      for (const table of OWNED) {
        await db.schema.alterTable(table).addColumn('tenant', 'text').execute();
      }
      await db.schema.alterTable('events').addColumn('tenant', 'text').execute();
      await db.schema.alterTable('events').addColumn('actor', 'text').execute();
      await db.schema.createIndex('flows_tenant').on('flows').columns(['tenant', 'seq']).execute();
      await db.schema.createIndex('events_tenant').on('events').columns(['tenant', 'id']).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('events_tenant').execute();
      await db.schema.dropIndex('flows_tenant').execute();
      await db.schema.alterTable('events').dropColumn('actor').execute();
      await db.schema.alterTable('events').dropColumn('tenant').execute();
      for (const table of OWNED) await db.schema.alterTable(table).dropColumn('tenant').execute();
    },
  };
}
