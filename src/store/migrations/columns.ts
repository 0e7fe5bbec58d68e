import type { Kysely } from 'kysely';
import type { Dialect } from '../types';

/** `id` column that the database numbers: INTEGER PRIMARY KEY on SQLite, BIGSERIAL on PostgreSQL. */
export function serialKey(dialect: Dialect): 'integer' | 'bigserial' {
  return dialect === 'postgres' ? 'bigserial' : 'integer';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration runs against the schema as it was then
export type AnyDb = Kysely<any>;
