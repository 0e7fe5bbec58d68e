import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type SqlStore } from '../../src/store';

export interface StoreFactory {
  name: string;
  /** A fresh, migrated, empty store. */
  open(): Promise<SqlStore>;
  /** Connection string for a server process to use the same database as `open()`'s last store. */
  databaseUrl?: () => string;
  cleanup(): Promise<void>;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export function sqliteFactory(): StoreFactory {
  return { name: 'sqlite', open: () => openStore({ sqliteFile: ':memory:' }), cleanup: async () => undefined };
}

/** Each `open()` gets its own PostgreSQL schema, dropped by `cleanup()`: suites never see each other's rows. */
export function postgresFactory(url: string): StoreFactory {
  const schemas: string[] = [];
  let last = '';
  const withSchema = (schema: string) => {
    // pg decodes the query with decodeURIComponent, so the space must be %20 (URLSearchParams would write '+').
    return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  };
  return {
    name: 'postgres',
    async open() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      schemas.push(schema);
      last = withSchema(schema);
      return openStore({ databaseUrl: last });
    },
    databaseUrl: () => last,
    async cleanup() {
      if (schemas.length === 0) return;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      for (const schema of schemas.splice(0)) await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

/** Every store the environment offers: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function storeFactories(): StoreFactory[] {
  return TEST_DATABASE_URL ? [sqliteFactory(), postgresFactory(TEST_DATABASE_URL)] : [sqliteFactory()];
}

export function reportSkippedPostgres(suite: string): void {
  if (!TEST_DATABASE_URL) {
    process.stdout.write(`[${suite}] PostgreSQL variant skipped: TEST_DATABASE_URL is not set\n`);
  }
}
