import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';
import { SqlStore } from './sql-store';

export type { Store } from './types';
export { SqlStore } from './sql-store';

export interface StoreOptions {
  /** `postgres://…` for PostgreSQL; unset for the embedded SQLite file. */
  databaseUrl?: string;
  /** Folder for the SQLite file (`<dataDir>/esign.sqlite`). */
  dataDir?: string;
  /** SQLite file path, or ':memory:'; overrides dataDir. */
  sqliteFile?: string;
  /** Sees every statement the store runs (and every failed one); tests count queries with it. */
  onQuery?: (event: LogEvent) => void;
}

/** Opens the store the configuration names and applies pending migrations before anything reads it. */
export async function openStore(options: StoreOptions): Promise<SqlStore> {
  const store = options.databaseUrl?.startsWith('postgres') ? openPostgres(options.databaseUrl, options.onQuery) : openSqlite(options);
  await store.migrate();
  return store;
}

function openSqlite(options: StoreOptions): SqlStore {
  let file = options.sqliteFile;
  if (!file && options.databaseUrl?.startsWith('file:')) file = options.databaseUrl.slice('file:'.length);
  if (!file) {
    const dir = options.dataDir ?? path.resolve('data');
    fs.mkdirSync(dir, { recursive: true });
    file = path.join(dir, 'esign.sqlite');
  }
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  // 64 MB of page cache (SQLite's default is 2 MB): a store past a few MB otherwise rereads index pages from the
  // file for every random insert of a callback batch.
  database.pragma('cache_size = -65536');
  cachePreparedStatements(database);
  return new SqlStore(new Kysely<Database>({ dialect: new SqliteDialect({ database }), log: options.onQuery }), 'sqlite');
}

/**
 * Kysely's SQLite driver prepares every statement afresh, which costs more than running most of ours. Statements are
 * reused by SQL text (better-sqlite3 statements are reusable once a run finishes; Kysely runs them synchronously),
 * in a bounded cache since `in (?, ?, …)` lists make many distinct texts.
 */
function cachePreparedStatements(database: BetterSqlite3.Database, limit = 500): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, BetterSqlite3.Statement>();
  database.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    }
    cache.set(source, statement);
    return statement;
  }) as BetterSqlite3.Database['prepare'];
}

function openPostgres(connectionString: string, onQuery?: (event: LogEvent) => void): SqlStore {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    // Event ids and counts are BIGINT; they stay far below 2^53, so numbers are safe and simpler than strings.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  return new SqlStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: onQuery }), 'postgres');
}
