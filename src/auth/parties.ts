import { forbidden, type Caller, type Parties } from './caller';

/**
 * The party a caller acts as at a provider (ETC's member, Tencent's Agent, e签宝's initiator, Yuansfer's merchant and
 * store) comes from its token, never from whatever the input says (docs/security.md, "Acting party"):
 * - the token names the party: that value is used; a different value in the input is refused (FORBIDDEN);
 * - the token names none but the deployment has its own (Tencent's Agent, Yuansfer's merchant and store from the
 *   configuration): that one is used, and the input may only repeat it;
 * - neither: a non-admin caller cannot act as anyone (FORBIDDEN); `admin` and callers with authentication off may
 *   name the party in the input.
 */
export function actingParty(
  caller: Caller,
  party: keyof Parties,
  options: { given?: string | null; fallback?: string; field: string; claim: string; required: boolean },
): string | undefined {
  const given = options.given === null || options.given === undefined || options.given.trim() === '' ? undefined : options.given;
  const fromToken = caller.parties[party];
  if (!caller.enforced || (caller.admin && fromToken === undefined)) return given ?? options.fallback;
  const own = fromToken ?? options.fallback;
  if (own !== undefined) {
    if (given !== undefined && given !== own) {
      throw forbidden(`${options.field} names another party than the one your token acts as (claim "${options.claim}")`);
    }
    return own;
  }
  if (options.required || given !== undefined) {
    throw forbidden(`your token has no "${options.claim}" claim, so it cannot act as the ${options.field} party`);
  }
  return undefined;
}
