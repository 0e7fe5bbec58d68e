import type { AutoDebitStatus } from '../../domain/autodebit';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderResponseError,
  ProviderServerError,
  type ProviderError,
} from '../errors';

export const YUANSFER = 'YUANSFER';

/** Every documented `ret_code` (docs/providers/yuansfer.md "Envelope"). */
export const RET_CODES = {
  SYSTEM_ERROR: '000000',
  API_VERSION: '000010',
  PARAMETER_NULL: '000020',
  NO_RELATED_INFORMATION: '000021',
  PARAMETERS_MISMATCH: '000022',
  PARAMETER_VALUE_ERROR: '000023',
  ACCESS_DENIED: '000030',
  STATUS_ERROR: '000040',
  SUPPLIER_ERROR: '000080',
  SUCCESS: '000100',
} as const;

/** Payment channels `consult` accepts (docs/providers/yuansfer.md; the v3 consult page adds `alipay_cn`). */
export const YUANSFER_VENDORS = [
  'alipay',
  'alipay_cn',
  'truemoney',
  'alipay_hk',
  'tng',
  'gcash',
  'dana',
  'kakaopay',
  'bkash',
  'easypaisa',
] as const;

export const YUANSFER_TERMINALS = ['ONLINE', 'WAP', 'APP'] as const;
export type YuansferTerminal = (typeof YUANSFER_TERMINALS)[number];

/** `osType` of consult: required when the terminal is WAP or APP. */
export const YUANSFER_OS_TYPES = ['IOS', 'ANDROID'] as const;
export type YuansferOsType = (typeof YUANSFER_OS_TYPES)[number];

/**
 * Maps a `ret_code` into the typed errors, once. The seed's example answers a bad signature with the *system
 * error* code `000000` and the message "data error : verifySign", so that pairing means the token is wrong, not
 * that Yuansfer is down.
 */
export function yuansferError(code: string, message: string, httpStatus?: number): ProviderError {
  const details = { provider: YUANSFER, code, httpStatus };
  const text = `Yuansfer ${code}: ${message}`;
  switch (code) {
    case RET_CODES.SYSTEM_ERROR:
      if (/verifySign/i.test(message)) {
        return new ProviderAuthenticationError(`${text} (signature check failed: YUANSFER_TOKEN is not this merchant's API token)`, details);
      }
      return new ProviderServerError(`${text} (system error)`, details);
    case RET_CODES.API_VERSION:
      return new ProviderInvalidRequestError(`${text} (API version error)`, details);
    case RET_CODES.PARAMETER_NULL:
      return new ProviderInvalidRequestError(`${text} (a required parameter is missing)`, details);
    case RET_CODES.NO_RELATED_INFORMATION:
      return new ProviderNotFoundError(`${text} (no related information)`, details);
    case RET_CODES.PARAMETERS_MISMATCH:
      // e.g. an autoDebitNo of another merchant or store: the caller's values, so a refusal they can act on.
      return new ProviderBusinessError(`${text} (parameters do not match)`, details);
    case RET_CODES.PARAMETER_VALUE_ERROR:
      return new ProviderBusinessError(`${text} (parameter value error)`, details);
    case RET_CODES.ACCESS_DENIED:
      return new ProviderPermissionError(`${text} (access denied)`, details);
    case RET_CODES.STATUS_ERROR:
      return new ProviderBusinessError(`${text} (status error)`, details);
    case RET_CODES.SUPPLIER_ERROR:
      return new ProviderServerError(`${text} (the payment channel failed)`, details);
    default:
      return new ProviderResponseError(`${text} (undocumented ret_code)`, details);
  }
}

/**
 * What an IPN about an authorization announces. The documented notice (sent once the payer authorized) carries no
 * status field; a revocation notice is not documented, so the emulator and this receiver agree on an inferred
 * `status=revoked` (any case) beside the same fields.
 */
export type YuansferNoticeKind = 'authorized' | 'revoked';

export const NOTICE_STATUS: Record<YuansferNoticeKind, AutoDebitStatus> = { authorized: 'ACTIVE', revoked: 'REVOKED' };

/** Reads the IPN's `status`: absent or empty is the documented authorization notice. */
export function noticeKind(status: string | undefined): YuansferNoticeKind | undefined {
  if (status === undefined || status === '') return 'authorized';
  const s = status.toLowerCase();
  if (s === 'authorized' || s === 'success') return 'authorized';
  if (s === 'revoked') return 'revoked';
  return undefined;
}

/** `YYYYMMDDHHMMSS` on Yuansfer's clock, UTC+8 (docs/providers/yuansfer.md "IPN"). Null when it is not such a time. */
export function parseYuansferTime(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return null;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  if (Number.isNaN(date.getTime())) return null;
  // Date rolls 20240230 over to 1 March; a time that does not read back the same was not a real one.
  const back = new Date(date.getTime() + 8 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
  return back === value ? date : null;
}
