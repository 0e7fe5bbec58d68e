import type { SignFlowStatus, SignProvider, UserError } from '../domain/model';

/** What a provider says about one of its flows, already mapped to the API's model. */
export interface ProviderFlowSnapshot {
  providerFlowId: string;
  status: SignFlowStatus;
  /** The provider's own code, untranslated. */
  providerStatus: string;
  fileUrl?: string | null;
  endedAt?: Date | null;
  data?: Record<string, unknown>;
}

export interface RevokeRequest {
  providerFlowId: string;
  reason?: string | null;
  etcMemberNo?: string | null;
  /** Tencent's CancelMessageFormat, 0–3. */
  cancelMessageFormat?: number | null;
  /** Tencent's Agent: the proxy organisation and operator acting; absent: the configured one. */
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string };
}

/**
 * What the API needs from every e-signature provider. A provider adds a folder under providers/ implementing this,
 * and registers it in providers/registry.ts; nothing else changes.
 */
export interface SignFlowProvider {
  readonly provider: SignProvider;
  /** Most ids one `fetchFlows` call may carry; the loader chunks to this. */
  readonly maxFetchBatch: number;
  /** True when one `fetchFlows` call is one provider request for the whole batch (else one request per id). */
  readonly batchedFetch?: boolean;
  /**
   * Checks the revoke input against the provider's documented limits before any call. Fields are named relative
   * to the GraphQL input (`['reason']`, `['etcMemberNo']`).
   */
  validateRevoke(request: RevokeRequest): UserError[];
  /**
   * Revokes an unfinished flow and says what the flow became. A refusal throws ProviderBusinessError (unknown flow:
   * ProviderNotFoundError); every other failure another ProviderError.
   */
  revoke(request: RevokeRequest): Promise<{ status: SignFlowStatus; providerStatus: string }>;
  /** Read-through for ids the store has not seen; ids the provider does not know are absent from the map. */
  fetchFlows(providerFlowIds: readonly string[]): Promise<Map<string, ProviderFlowSnapshot>>;
  close?(): void;
}
