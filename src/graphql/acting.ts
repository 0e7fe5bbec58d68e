import { actingParty } from '../auth/parties';
import type { Context } from './context';

/**
 * The parties a mutation acts as at each provider, from the caller's token (src/auth/parties.ts). Each function
 * throws FORBIDDEN when the input names a party the caller may not act as.
 */

/** ETC's `etc_member_no`: required for ETC flows. */
export function etcMemberNo(ctx: Context, given: string | null | undefined, required: boolean): string | undefined {
  return actingParty(ctx.caller, 'etcMemberNo', { given, field: 'etcMemberNo', claim: ctx.services.partyClaims.etcMemberNo, required });
}

/** Tencent's Agent: the caller's proxy organisation and operator, or undefined for the configured Agent. */
export function tencentAgent(ctx: Context): { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | undefined {
  const { caller, services } = ctx;
  const fallback = services.defaultParties.tencentAgent;
  const org = actingParty(caller, 'tencentOrgOpenId', {
    fallback: fallback?.proxyOrganizationOpenId,
    field: 'Tencent proxy organisation',
    claim: services.partyClaims.tencentOrgOpenId,
    required: false,
  });
  const operator = actingParty(caller, 'tencentOperatorOpenId', {
    fallback: fallback?.proxyOperatorOpenId,
    field: 'Tencent proxy operator',
    claim: services.partyClaims.tencentOperatorOpenId,
    required: false,
  });
  if (!org || !operator) return undefined;
  if (org === fallback?.proxyOrganizationOpenId && operator === fallback?.proxyOperatorOpenId) return undefined;
  return { proxyOrganizationOpenId: org, proxyOperatorOpenId: operator };
}

/** Yuansfer's merchant and store: the token's, else the configured ones; the input may only repeat them. */
export function yuansferMerchant(ctx: Context, given: { merchantNo?: string | null; storeNo?: string | null }): { merchantNo?: string; storeNo?: string } {
  const { caller, services } = ctx;
  const fallback = services.defaultParties.yuansfer;
  const claims = services.partyClaims;
  // Only an enforced, non-admin caller whose token names no merchant is held to the configured one; everyone else's
  // omitted values keep the service's own defaults (a revoke uses the stored authorization's merchant and store).
  const hasClaims = caller.parties.yuansferMerchantNo !== undefined || caller.parties.yuansferStoreNo !== undefined;
  const held = caller.enforced && !caller.admin && !hasClaims;
  return {
    merchantNo: actingParty(caller, 'yuansferMerchantNo', {
      given: given.merchantNo,
      fallback: held ? fallback?.merchantNo : undefined,
      field: 'merchantNo',
      claim: claims.yuansferMerchantNo,
      required: false,
    }),
    storeNo: actingParty(caller, 'yuansferStoreNo', {
      given: given.storeNo,
      fallback: held ? fallback?.storeNo : undefined,
      field: 'storeNo',
      claim: claims.yuansferStoreNo,
      required: false,
    }),
  };
}

/** e签宝's rescission initiator: a person the token names, or an organisation it names (with its transactor). */
export function esignInitiator(ctx: Context, initiator: { person?: { psnId: string } | null; organization?: { orgId: string; transactorPsnId: string } | null }): void {
  const { caller, services } = ctx;
  const claims = services.partyClaims;
  if (initiator.person) {
    actingParty(caller, 'esignPsnId', { given: initiator.person.psnId, field: 'initiator.person.psnId', claim: claims.esignPsnId, required: true });
  }
  if (initiator.organization) {
    actingParty(caller, 'esignOrgId', { given: initiator.organization.orgId, field: 'initiator.organization.orgId', claim: claims.esignOrgId, required: true });
    if (caller.parties.esignPsnId !== undefined) {
      actingParty(caller, 'esignPsnId', { given: initiator.organization.transactorPsnId, field: 'initiator.organization.transactorPsnId', claim: claims.esignPsnId, required: true });
    }
  }
}
