import type { SignFlowStatus } from '../../domain/model';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderServerError,
  type ProviderError,
} from '../errors';

export const ETC = 'ETC';

/** `flowStatus` of esign.signflows.query and `sign_flow_status` of the callback (docs/providers/etc.md, seed 001). */
const STATUS: Record<string, SignFlowStatus> = {
  '0': 'DRAFT',
  '1': 'SIGNING',
  '2': 'COMPLETED',
  '3': 'REVOKED',
  '5': 'EXPIRED',
  '7': 'REJECTED',
};

export const ETC_REVOKED = '3';

export function etcStatus(code: string | number): SignFlowStatus {
  return STATUS[String(code)] ?? 'UNKNOWN';
}

/**
 * Business codes the gateway passes through from the e-sign backend are not documented. The emulator answers
 * `300001` for an unknown flow (the client turns it into "not found") and `300002` for a flow in the wrong state;
 * any other non-gateway code is treated as a business refusal.
 */
export const ETC_FLOW_NOT_FOUND = '300001';

/** Every documented gateway code, mapped once (docs/providers/etc.md "Response envelope"). */
export function etcError(code: string, message: string, requestId?: string): ProviderError {
  const details = { provider: ETC, code, requestId };
  const text = `ETC gateway ${code}: ${message}`;
  switch (code) {
    case '400':
      return new ProviderInvalidRequestError(`${text} (missing parameter)`, details);
    case '400001':
      return new ProviderAuthenticationError(`${text} (the appId is not recognised)`, details);
    case '400002':
      return new ProviderPermissionError(`${text} (the API is disabled for this app)`, details);
    case '401001':
      return new ProviderAuthenticationError(`${text} (signature check failed: ETC_PRIVATE_KEY does not match the app's registered public key)`, details);
    case '401002':
      return new ProviderPermissionError(`${text} (the app has no permission for this API)`, details);
    case '403001':
      // The timestamp is re-drawn on every attempt, so one retry covers a request that sat in a queue too long.
      return new ProviderAuthenticationError(`${text} (timestamp outside the 30 s window: check this server's clock)`, { ...details, retryable: true });
    case '403002':
      // The gateway refused the request before acting; a fresh nonce makes it a new, safe request.
      return new ProviderAuthenticationError(`${text} (nonce reused)`, { ...details, retryable: true });
    case '404001':
      return new ProviderInvalidRequestError(`${text} (unknown apiCode)`, details);
    case '500':
      return new ProviderServerError(`${text} (gateway system error)`, details);
    case ETC_FLOW_NOT_FOUND:
      return new ProviderNotFoundError(text, details);
    default:
      return new ProviderBusinessError(text, details);
  }
}
