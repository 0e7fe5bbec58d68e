import type { SignFlowStatus } from '../../domain/model';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderRateLimitError,
  ProviderServerError,
  type ProviderError,
} from '../errors';

export const TENCENT = 'TENCENT_ESS';

/** `FlowInfo.FlowStatus` of DescribeFlowDetailInfo (docs/providers/tencent.md). */
export const TENCENT_FLOW_STATUSES = ['INIT', 'PART', 'REJECT', 'ALL', 'DEADLINE', 'CANCEL', 'INVALID', 'RELIEVED'] as const;
export type TencentFlowStatus = (typeof TENCENT_FLOW_STATUSES)[number];

const STATUS: Record<TencentFlowStatus, SignFlowStatus> = {
  INIT: 'SIGNING',
  PART: 'SIGNING',
  REJECT: 'REJECTED',
  ALL: 'COMPLETED',
  DEADLINE: 'EXPIRED',
  CANCEL: 'REVOKED',
  INVALID: 'INVALIDATED',
  RELIEVED: 'RESCINDED',
};

export const TENCENT_CANCELLED: TencentFlowStatus = 'CANCEL';

export function isTencentFlowStatus(value: unknown): value is TencentFlowStatus {
  return typeof value === 'string' && (TENCENT_FLOW_STATUSES as readonly string[]).includes(value);
}

export function tencentStatus(status: TencentFlowStatus): SignFlowStatus {
  return STATUS[status];
}

/**
 * `FlowCallbackStatus` of the FlowStatusChange callback → the FlowStatus name it stands for (docs/providers/tencent.md):
 * 1 INIT, 2 PART, 3 REJECT, 4 ALL, 5 DEADLINE, 6 CANCEL, 8 INIT (waiting to be filled in), 16 INVALID, 21 RELIEVED.
 * The name, not the number, becomes `providerStatus`, so a flow reads the same whether a callback or a query told us.
 */
const CALLBACK_STATUS: Record<number, TencentFlowStatus> = {
  1: 'INIT',
  2: 'PART',
  3: 'REJECT',
  4: 'ALL',
  5: 'DEADLINE',
  6: 'CANCEL',
  8: 'INIT',
  16: 'INVALID',
  21: 'RELIEVED',
};

export function tencentCallbackStatus(code: number): TencentFlowStatus | undefined {
  return CALLBACK_STATUS[code];
}

/**
 * Every error code the client can meet, mapped once (docs/providers/tencent.md "Envelope", seed 002 "错误码"). Matching is by
 * the code's dotted prefix, most specific first, so sub-codes Tencent adds later still land in the right family.
 */
export function tencentError(code: string, message: string, requestId?: string): ProviderError {
  const details = { provider: TENCENT, code, requestId };
  const text = `Tencent ESS ${code}: ${message}`;
  const is = (prefix: string) => code === prefix || code.startsWith(`${prefix}.`);

  if (code === 'AuthFailure.SignatureExpire') {
    return new ProviderAuthenticationError(`${text} (X-TC-Timestamp more than 5 minutes from Tencent's clock: check this server's clock)`, details);
  }
  if (code === 'AuthFailure.SecretIdNotFound') {
    return new ProviderAuthenticationError(`${text} (TENCENT_SECRET_ID is not a known SecretId)`, details);
  }
  if (code === 'AuthFailure.SignatureFailure') {
    return new ProviderAuthenticationError(`${text} (TENCENT_SECRET_KEY does not match TENCENT_SECRET_ID)`, details);
  }
  if (code === 'AuthFailure.UnauthorizedOperation' || is('UnauthorizedOperation')) {
    return new ProviderPermissionError(text, details);
  }
  if (is('AuthFailure')) return new ProviderAuthenticationError(text, details);
  if (is('RequestLimitExceeded')) {
    // Refused before anything happened: safe to repeat after a pause, even for a cancel.
    return new ProviderRateLimitError(`${text} (over the per-action request rate)`, { ...details, retryable: true });
  }
  if (is('InternalError')) return new ProviderServerError(text, details);
  if (code === 'ResourceNotFound.Application') {
    return new ProviderAuthenticationError(`${text} (TENCENT_ESS_APP_ID is not a known application)`, details);
  }
  if (code === 'ResourceNotFound.User' || code === 'OperationDenied.UserNotInOrganization') {
    return new ProviderPermissionError(`${text} (check TENCENT_ESS_PROXY_ORG_OPEN_ID and TENCENT_ESS_PROXY_OPERATOR_OPEN_ID)`, details);
  }
  if (is('ResourceNotFound')) return new ProviderNotFoundError(text, details);
  // Refusals about the flows themselves (wrong state, duplicate task) are business answers, not bugs.
  if (code === 'InvalidParameter.Status' || code === 'InvalidParameter.DupTask') return new ProviderBusinessError(text, details);
  if (
    is('InvalidParameter') ||
    is('InvalidParameterValue') ||
    is('MissingParameter') ||
    is('UnknownParameter') ||
    is('InvalidAction') ||
    is('UnsupportedOperation')
  ) {
    return new ProviderInvalidRequestError(text, details);
  }
  if (is('OperationDenied') || is('FailedOperation') || is('LimitExceeded')) return new ProviderBusinessError(text, details);
  return new ProviderBusinessError(text, details);
}
