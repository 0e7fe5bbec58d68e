import { canSee, forbidden, type Caller } from '../auth/caller';
import type { EventKind, Store } from '../store/types';

const NAMES: Record<EventKind, string> = { signflow: 'flow', canceltask: 'cancel task', rescission: 'rescission', autodebit: 'auto-debit authorization' };

/**
 * Tenancy rules for mutations (docs/security.md, "Tenancy"):
 * - a record the store does not have yet will be created with the caller's tenant;
 * - a record of the caller's tenant (or any record, for `admin` and with authentication off) may be acted on;
 * - a record no tenant owns yet (one only callbacks have touched, or made by a caller without a tenant) is claimed
 *   by the first tenant caller that acts on it — atomically, so two tenants racing cannot both get it;
 * - any other record is another tenant's: FORBIDDEN, nothing is sent to the provider.
 *
 * `current` is each record's stored tenant (`undefined`: not stored). Returns the ids the caller may act on.
 */
export async function claimForCaller(
  store: Pick<Store, 'claimTenant'>,
  caller: Caller,
  kind: EventKind,
  current: ReadonlyMap<string, string | null>,
): Promise<Set<string>> {
  const allowed = new Set<string>();
  const unclaimed: string[] = [];
  for (const [id, tenant] of current) {
    if (canSee(caller, tenant)) allowed.add(id);
    else if (tenant === null && caller.tenant !== null) unclaimed.push(id);
  }
  if (unclaimed.length > 0) {
    const after = await store.claimTenant(kind, unclaimed, caller.tenant as string);
    for (const id of unclaimed) if (after.get(id) === caller.tenant) allowed.add(id);
  }
  return allowed;
}

/** {@link claimForCaller} for one record; throws FORBIDDEN when it is another tenant's. */
export async function assertActsOn(store: Pick<Store, 'claimTenant'>, caller: Caller, kind: EventKind, id: string, tenant: string | null | undefined): Promise<void> {
  if (tenant === undefined) return;
  const allowed = await claimForCaller(store, caller, kind, new Map([[id, tenant]]));
  if (!allowed.has(id)) throw forbidden(`the ${NAMES[kind]} ${id} belongs to another tenant`);
}
