import type { SignFlowStatus } from '../../domain/model';
import type {
  NoticeType,
  PersonSealStyle,
  RescissionChargeMode,
  RescissionReason,
  RescissionRequest,
  SignClientType,
} from '../../domain/rescission';
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

/**
 * Everything e签宝 says in its own codes, mapped to the API's names in one place: flow statuses, rescission enums
 * and error codes (docs/providers/esign.md, seed 003).
 */

export const ESIGN = 'ESIGN';

/** `signFlowStatus`: an integer in the detail query, a string in SIGN_FLOW_COMPLETE. */
const STATUS: Record<string, SignFlowStatus> = {
  '0': 'DRAFT',
  '1': 'SIGNING',
  '2': 'COMPLETED',
  '3': 'REVOKED',
  '5': 'EXPIRED',
  '7': 'REJECTED',
};

export const ESIGN_REVOKED = '3';

export function esignStatus(code: string | number): SignFlowStatus {
  return STATUS[String(code)] ?? 'UNKNOWN';
}

/** Detail `rescissionStatus`: 0 none, 1 in progress, 2 partly rescinded, 3 rescinded. */
export const RESCISSION_STATUS_RESCINDED = 3;

/**
 * `SignFlow.providerStatus` of a rescinded flow. e签宝 keeps such a flow at `signFlowStatus` 2 and says "rescinded"
 * with `rescissionStatus` 3; the API's RESCINDED comes from the latter, and the providerStatus says so.
 */
export const ESIGN_RESCINDED_PROVIDER_STATUS = 'rescission:3';

/** A flow's status from the detail query: COMPLETED with every file rescinded is RESCINDED. */
export function esignFlowStatus(signFlowStatus: number, rescissionStatus: number | undefined): { status: SignFlowStatus; providerStatus: string } {
  if (signFlowStatus === 2 && rescissionStatus === RESCISSION_STATUS_RESCINDED) {
    return { status: 'RESCINDED', providerStatus: ESIGN_RESCINDED_PROVIDER_STATUS };
  }
  return { status: esignStatus(signFlowStatus), providerStatus: String(signFlowStatus) };
}

/** `rescindReason` "1".."5" (seed 003). */
export const RESCISSION_REASON_CODES: Record<RescissionReason, string> = {
  WRONG_TERMS: '1',
  WRONG_SEAL: '2',
  WRONG_SIGNER_INFO: '3',
  COOPERATION_ENDED: '4',
  OTHER: '5',
};

export function rescissionReasonOf(code: string): RescissionReason | undefined {
  return (Object.keys(RESCISSION_REASON_CODES) as RescissionReason[]).find((r) => RESCISSION_REASON_CODES[r] === code);
}

const CHARGE_MODE: Record<RescissionChargeMode, number> = { INTEGRATOR: 0, INITIATOR_ORGANIZATION: 1 };
const SIGN_CLIENT_TYPE: Record<SignClientType, string> = { WEB: '1', ALIPAY: '2' };
const PSN_SEAL_STYLE: Record<PersonSealStyle, string> = { HANDWRITING: '0', NAME_SEAL: '1', HANDWRITING_AI_CHECK: '2' };
const NOTICE_TYPE: Record<NoticeType, string> = { SMS: '1', EMAIL: '2' };

/** Comma-separated codes in the order given, without repeats (e签宝's list format: "1,2"). */
function codes<T extends string>(values: readonly T[], table: Record<T, string>): string {
  return [...new Set(values.map((v) => table[v]))].join(',');
}

function withoutEmpty(value: Record<string, unknown>): Record<string, unknown> | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

const present = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** The seed-003 request body, every optional part left out when not given. */
export function rescissionBody(request: RescissionRequest): Record<string, unknown> {
  const initiator =
    request.initiator.kind === 'person'
      ? { psnInitiator: { psnId: request.initiator.psnId } }
      : { orgInitiator: { orgId: request.initiator.orgId, transactor: { psnId: request.initiator.transactorPsnId } } };
  const config = request.signFlowConfig ?? undefined;
  const charge = config?.charge ?? undefined;
  const sign = config?.sign ?? undefined;
  const notice = config?.notice ?? undefined;
  const signFlowConfig = withoutEmpty({
    signFlowExpireTime: config?.expireTime ? config.expireTime.getTime() : undefined,
    chargeConfig: charge && withoutEmpty({ chargeMode: charge.mode ? CHARGE_MODE[charge.mode] : undefined, orderType: present(charge.orderType) }),
    signConfig:
      sign &&
      withoutEmpty({
        availableSignClientTypes: sign.availableSignClientTypes ? codes(sign.availableSignClientTypes, SIGN_CLIENT_TYPE) : undefined,
        psnSealStyles: sign.psnSealStyles ? codes(sign.psnSealStyles, PSN_SEAL_STYLE) : undefined,
      }),
    noticeConfig:
      notice &&
      withoutEmpty({
        // An empty list is e签宝's "" (send no notice), which is also its default.
        noticeTypes: notice.noticeTypes ? codes(notice.noticeTypes, NOTICE_TYPE) : undefined,
        examineNotice: present(notice.examineNotice),
      }),
    notifyUrl: request.notifyUrl,
  });
  return {
    rescindFileList: request.fileIds,
    rescindReason: RESCISSION_REASON_CODES[request.reason],
    ...(request.notes ? { rescindReasonNotes: request.notes } : {}),
    rescissionInitiator: initiator,
    ...(signFlowConfig ? { signFlowConfig } : {}),
    ...(request.autoSignOrg && request.autoSignOrg.length > 0
      ? { autoSignOrg: request.autoSignOrg.map((o) => withoutEmpty({ orgId: present(o.orgId), orgName: present(o.orgName), sealId: o.sealId })) }
      : {}),
    ...(request.orgSignerTransactor && request.orgSignerTransactor.length > 0
      ? {
          orgSignerTransactor: request.orgSignerTransactor.map((o) =>
            withoutEmpty({
              orgId: present(o.orgId),
              orgName: present(o.orgName),
              transactorInfo: withoutEmpty({
                psnId: present(o.transactorInfo.psnId),
                psnAccount: present(o.transactorInfo.psnAccount),
                psnName: present(o.transactorInfo.psnName),
              }),
            }),
          ),
        }
      : {}),
  };
}

/**
 * e签宝 publishes business codes per endpoint but not its gateway's answers, and no code for an unknown flow; the
 * ones below other than 1439107 are INFERRED (the sandbox emulator answers them), each mapped once here.
 * Authentication refusals come as HTTP 401 with code 401, a body that does not match Content-MD5 as 400/400.
 */
export const ESIGN_CODES = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  /** No such endpoint (a path or method e签宝 does not serve). */
  NO_SUCH_API: 404,
  RATE_LIMITED: 429,
  SYSTEM_ERROR: 500,
  /** 参数错误: a request our own validation should have stopped. */
  INVALID_PARAMETER: 1435002,
  /** 签署流程不存在 */
  FLOW_NOT_FOUND: 1437104,
  /** 没有可解约的文档 (documented, docs/providers/esign.md) */
  NO_RESCINDABLE_FILES: 1439107,
} as const;

/** Decides on `code`, never on `message` (seed 003: the message may change). */
export function esignError(code: number, message: string, httpStatus?: number): ProviderError {
  const details = { provider: ESIGN, code: String(code), httpStatus };
  const text = `e签宝 ${code}: ${message}`;
  switch (code) {
    case ESIGN_CODES.UNAUTHENTICATED:
      // The timestamp is drawn afresh on each attempt, so a clock that is merely slow is not what this means.
      return new ProviderAuthenticationError(`${text} (check ESIGN_APP_ID, ESIGN_APP_SECRET and this server's clock)`, details);
    case ESIGN_CODES.FORBIDDEN:
      return new ProviderPermissionError(text, details);
    case ESIGN_CODES.RATE_LIMITED:
      return new ProviderRateLimitError(text, details);
    case ESIGN_CODES.BAD_REQUEST:
    case ESIGN_CODES.INVALID_PARAMETER:
      return new ProviderInvalidRequestError(text, details);
    case ESIGN_CODES.NO_SUCH_API:
      return new ProviderInvalidRequestError(`${text} (unknown endpoint: check ESIGN_BASE_URL)`, details);
    case ESIGN_CODES.FLOW_NOT_FOUND:
      return new ProviderNotFoundError(text, details);
    default:
      if (code >= 500 && code < 600) return new ProviderServerError(text, details);
      return new ProviderBusinessError(text, details);
  }
}
