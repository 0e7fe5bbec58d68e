import type { Kysely } from 'kysely';
import type { Config } from '../config';
import { AUTO_DEBIT_PROVIDER } from '../domain/autodebit';
import type { SignProvider } from '../domain/model';
import type { Database } from '../store/schema';
import type { SqlStore } from '../store/sql-store';

/**
 * What a sandbox reset removes from the store: the records of the emulated providers, so that after a reset the
 * store and the (empty) emulators agree again. A provider configured with real credentials keeps every record.
 *
 * - flows, their callback receipts, events and reconciliation state, of each emulated sign provider; rescissions
 *   when e签宝 is emulated;
 *   auto-debits and their events when Yuansfer is;
 * - cancel tasks whose flows all belong to emulated providers, with their items, events and early task results;
 * - idempotency keys only when every provider is emulated (they name no provider, so in a mixed set-up they stay);
 * - the newest event of the log is always kept: event ids are every subscription's cursor, and SQLite would hand a
 *   deleted highest id out again.
 */
export interface SandboxRecords {
  /** Sign providers whose emulator the API is pointed at. */
  signProviders: readonly SignProvider[];
  /** Whether Yuansfer is emulated. */
  autoDebits: boolean;
  /** Whether every provider is emulated. */
  everything: boolean;
}

export interface ResetCounts {
  flows: number;
  events: number;
  receipts: number;
  rescissions: number;
  autoDebits: number;
  cancelTasks: number;
  operations: number;
}

export async function resetSandboxRecords(store: SqlStore, scope: SandboxRecords): Promise<ResetCounts> {
  const counts: ResetCounts = { flows: 0, events: 0, receipts: 0, rescissions: 0, autoDebits: 0, cancelTasks: 0, operations: 0 };
  const providers = [...scope.signProviders];
  const receiptProviders = scope.autoDebits ? [...providers, AUTO_DEBIT_PROVIDER] : providers;
  await store.transaction(async (tx) => {
    // The event log's lock first, like every writer of events, so no event is appended half-way through.
    await tx.events.lock();
    const db = (tx as SqlStore).db as Kysely<Database>;
    const n = (result: { numDeletedRows: bigint | number }) => Number(result.numDeletedRows);
    const newest = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    const keepId = Number(newest?.id ?? 0);

    // Cancel tasks whose every item is an emulated provider's.
    const tasks = await db.selectFrom('cancel_tasks').select(['id', 'providers']).execute();
    const doomed = tasks
      .filter((task) => {
        const list = JSON.parse(task.providers) as string[];
        return list.every((p) => (providers as string[]).includes(p));
      })
      .map((task) => task.id);
    for (const id of doomed) {
      await db.deleteFrom('cancel_items').where('task_id', '=', id).execute();
      counts.events += n(await db.deleteFrom('events').where('kind', '=', 'canceltask').where('subject_id', '=', id).where('id', '<>', keepId).executeTakeFirstOrThrow());
      counts.cancelTasks += n(await db.deleteFrom('cancel_tasks').where('id', '=', id).executeTakeFirstOrThrow());
    }

    if (providers.length > 0) {
      await db.deleteFrom('early_task_results').where('provider', 'in', providers).execute();
      counts.events += n(await db.deleteFrom('events').where('kind', 'in', ['signflow', 'rescission']).where('provider', 'in', providers).where('id', '<>', keepId).executeTakeFirstOrThrow());
      counts.flows += n(await db.deleteFrom('flows').where('provider', 'in', providers).executeTakeFirstOrThrow());
    }
    if (receiptProviders.length > 0) {
      counts.receipts += n(await db.deleteFrom('callback_receipts').where('provider', 'in', receiptProviders).executeTakeFirstOrThrow());
    }
    // Reconciliation's per-record backoff, so a demo flow created again under its old id starts afresh.
    for (const provider of providers) {
      await db.deleteFrom('reconcile_state').where('kind', '=', 'signflow').where('subject_id', 'like', `${provider}:%`).execute();
    }
    if (providers.includes('ESIGN')) {
      await db.deleteFrom('reconcile_state').where('kind', '=', 'rescission').execute();
      counts.rescissions += n(await db.deleteFrom('rescissions').executeTakeFirstOrThrow());
    }
    if (scope.autoDebits) {
      counts.events += n(await db.deleteFrom('events').where('kind', '=', 'autodebit').where('id', '<>', keepId).executeTakeFirstOrThrow());
      counts.autoDebits += n(await db.deleteFrom('auto_debits').executeTakeFirstOrThrow());
    }
    if (scope.everything) counts.operations += n(await db.deleteFrom('operations').executeTakeFirstOrThrow());
  });
  return counts;
}

/** Which providers the API is pointed at the emulators for: those whose address is the sandbox's (a function). */
export function emulatedProviders(config: Pick<Config, 'etc' | 'tencent' | 'esign' | 'yuansfer'>): SandboxRecords {
  const signProviders: SignProvider[] = [];
  if (config.etc && typeof config.etc.gatewayUrl === 'function') signProviders.push('ETC');
  if (config.tencent && typeof config.tencent.endpoint === 'function') signProviders.push('TENCENT_ESS');
  if (config.esign && typeof config.esign.baseUrl === 'function') signProviders.push('ESIGN');
  const autoDebits = !!config.yuansfer && typeof config.yuansfer.baseUrl === 'function';
  return { signProviders, autoDebits, everything: signProviders.length === 3 && autoDebits };
}
