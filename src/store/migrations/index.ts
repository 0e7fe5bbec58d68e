import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../types';
import { spine } from './001_spine';
import { cancelTasks } from './002_cancel_tasks';
import { rescissions } from './003_rescissions';
import { autoDebits } from './004_auto_debits';
import { earlyTaskResults } from './005_early_task_results';
import { receiptRetention } from './006_receipt_retention';
import { tenancy } from './007_tenancy';
import { reconcile } from './008_reconcile';

/**
 * Versioned migrations, applied in name order at start-up. Each is written once against Kysely's schema builder
 * and told the dialect only where the two SQL dialects truly differ (auto-increment keys).
 */
export type DialectMigration = (dialect: Dialect) => Migration;

const ALL: Record<string, DialectMigration> = {
  '001_spine': spine,
  '002_cancel_tasks': cancelTasks,
  '003_rescissions': rescissions,
  '004_auto_debits': autoDebits,
  '005_early_task_results': earlyTaskResults,
  '006_receipt_retention': receiptRetention,
  '007_tenancy': tenancy,
  '008_reconcile': reconcile,
};

export class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(ALL).map(([name, make]) => [name, make(this.dialect)]));
  }
}

