import { randomInt } from 'crypto';
import { checkRequestSign } from './verify-sign';

/**
 * Yuansfer's auto-debit v3 API as the emulator answers it, transport-free: parameters and the time in, an envelope
 * (and the notices to send) out. docs/providers/yuansfer.md and the v3 pages for consult, apply-token, pay and revoke.
 *
 * Written independently of the client in `src/providers`: both are held to the doc vectors separately.
 */

/** Documented `ret_code`s. */
export const RET = {
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

export interface Envelope {
  result?: Record<string, unknown>;
  ret_code: string;
  ret_msg: string;
}

/**
 * An answer and its HTTP status. The docs show errors with HTTP 400 and success with 200; the messages follow the
 * seed's `"<kind> : <parameter>"` shape ("data error : verifySign").
 */
export interface ApiAnswer {
  status: number;
  body: Envelope;
}

export const ok = (ret_msg: string, result: Record<string, unknown>): ApiAnswer => ({ status: 200, body: { result, ret_code: RET.SUCCESS, ret_msg } });
export const fail = (ret_code: string, ret_msg: string): ApiAnswer => ({ status: 400, body: { ret_code, ret_msg } });

/** Channels of the consult and pay pages (`alipay_cn` only on those pages, not in the revoke table). */
export const VENDORS = ['alipay', 'alipay_cn', 'truemoney', 'alipay_hk', 'tng', 'gcash', 'dana', 'kakaopay', 'bkash', 'easypaisa'] as const;
export const TERMINALS = ['ONLINE', 'WAP', 'APP'] as const;
export const OS_TYPES = ['IOS', 'ANDROID'] as const;
export const GRANT_TYPES = ['AUTHORIZATION_CODE', 'REFRESH_TOKEN'] as const;
/** The pay page's currencies. */
export const CURRENCIES = ['USD', 'CNY', 'PHP', 'IDR', 'KRW', 'HKD'] as const;

export type AuthorizationStatus = 'PENDING' | 'ACTIVE' | 'REVOKED';

export interface Payment {
  transactionNo: string;
  amount: string;
  currency: string;
  settleCurrency: string;
  reference: string;
  ipnUrl: string;
  /** ms */
  createdAt: number;
}

/** One authorization as Yuansfer keeps it. */
export interface Authorization {
  autoDebitNo: string;
  merchantNo: string;
  storeNo: string;
  /** As the merchant sent it (lower case in the docs' parameter lists). */
  vendor: string;
  terminal: string;
  autoReference: string;
  note: string | null;
  autoIpnUrl: string | null;
  autoRedirectUrl: string | null;
  osType: string | null;
  osVersion: string | null;
  status: AuthorizationStatus;
  /** ms */
  createdAt: number;
  authorizedAt: number | null;
  revokedAt: number | null;
  /** Set by apply-token; the token itself never leaves Yuansfer. ms. */
  accessTokenExpiresAt: number | null;
  refreshTokenExpiresAt: number | null;
  payments: Payment[];
}

export interface Merchant {
  token: string;
  stores: readonly string[];
}

/** What an operation asks the emulator to send once it has answered. */
export type Notice =
  | { kind: 'authorized' | 'revoked'; authorization: Authorization }
  | { kind: 'payment'; authorization: Authorization; payment: Payment };

export interface ApiState {
  merchants: ReadonlyMap<string, Merchant>;
  authorizations: Map<string, Authorization>;
  /** ms */
  now: number;
  authUrlBase: string;
}

/**
 * Access token lifetime ≈ 180 days and refresh token ≈ 1 year: the apply-token example answers
 * `2021-07-07T03:17:31+08:00` and `2022-01-08T03:17:31+08:00` for a request of early January 2021.
 */
export const ACCESS_TOKEN_MS = 180 * 86_400_000;
export const REFRESH_TOKEN_MS = 365 * 86_400_000;

const CHINA_OFFSET_MS = 8 * 3600_000;

/** ISO-8601 on Yuansfer's clock, as apply-token answers: `2021-07-07T03:17:31+08:00`. */
export function chinaIso(ms: number): string {
  return `${new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** `YYYYMMDDHHMMSS` on Yuansfer's clock (UTC+8), the IPN's `time`. */
export function ipnTime(ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace(/\D/g, '');
}

/** 18 digits, like `298222562856331071` in the docs. */
export function newNumber(taken: (no: string) => boolean): string {
  for (;;) {
    let no = '29';
    for (let i = 0; i < 16; i++) no += String(randomInt(10));
    if (!taken(no)) return no;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

export interface ParamRule {
  name: string;
  /** Absent or empty makes the request fail with `000020`. */
  required: boolean | ((params: Readonly<Record<string, string | undefined>>) => boolean);
  oneOf?: readonly string[];
  /** Compare with `oneOf` ignoring case (the docs spell vendors both `gcash` and `GCASH`). */
  anyCase?: boolean;
  pattern?: RegExp;
  maxLength?: number;
}

const HTTP_URL = /^https?:\/\/\S+$/i;
const AMOUNT = /^(?!0+(\.0+)?$)\d{1,10}(\.\d{1,2})?$/;

/** A JSON body's parameters; undefined when it is not one object. */
export function paramsFromJson(json: unknown): Record<string, unknown> | undefined {
  return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
}

/** A form body's parameters; undefined when a name repeats (only one value can have been signed). */
export function paramsFromForm(form: URLSearchParams): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = {};
  for (const [name, value] of form) {
    if (Object.prototype.hasOwnProperty.call(params, name)) return undefined;
    params[name] = value;
  }
  return params;
}

const blank = (value: unknown) => value === undefined || value === null || value === '';

function asText(value: unknown): string | undefined {
  if (blank(value)) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The checks every endpoint makes, in this order: parameters present (`000020`), merchant known (`000030`),
 * `verifySign` (`000000` "data error : verifySign", as seed 004 shows), store of that merchant (`000022`), then
 * each value (`000023`). Returns the parameters as text, or the refusal.
 */
export function checkRequest(
  params: Record<string, unknown> | undefined,
  rules: readonly ParamRule[],
  merchants: ReadonlyMap<string, Merchant>,
): { ok: true; values: Record<string, string | undefined>; merchant: Merchant } | { ok: false; answer: ApiAnswer } {
  if (!params) return { ok: false, answer: fail(RET.PARAMETER_VALUE_ERROR, 'parameter value error : body must be one JSON object or form') };
  const values: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!blank(value) && asText(value) === undefined && name !== 'verifySign') {
      return { ok: false, answer: fail(RET.PARAMETER_VALUE_ERROR, `parameter value error : ${name}`) };
    }
    values[name] = asText(value);
  }
  const all: ParamRule[] = [
    { name: 'merchantNo', required: true },
    { name: 'storeNo', required: true },
    ...rules,
    { name: 'verifySign', required: true },
  ];
  for (const rule of all) {
    const required = typeof rule.required === 'function' ? rule.required(values) : rule.required;
    if (required && values[rule.name] === undefined) return { ok: false, answer: fail(RET.PARAMETER_NULL, `parameter null : ${rule.name}`) };
  }
  const merchant = merchants.get(values.merchantNo as string);
  if (!merchant) return { ok: false, answer: fail(RET.ACCESS_DENIED, 'access denied : merchantNo') };
  const signed = checkRequestSign(params, merchant.token);
  if (!signed.ok) return { ok: false, answer: fail(signed.ret_code, signed.ret_msg) };
  if (!merchant.stores.includes(values.storeNo as string)) return { ok: false, answer: fail(RET.PARAMETERS_MISMATCH, 'parameters do not match : storeNo') };
  for (const rule of rules) {
    const value = values[rule.name];
    if (value === undefined) continue;
    const inList = !rule.oneOf || rule.oneOf.some((allowed) => (rule.anyCase ? allowed.toLowerCase() === value.toLowerCase() : allowed === value));
    const tooLong = rule.maxLength !== undefined && [...value].length > rule.maxLength;
    if (!inList || tooLong || (rule.pattern && !rule.pattern.test(value))) {
      return { ok: false, answer: fail(RET.PARAMETER_VALUE_ERROR, `parameter value error : ${rule.name}`) };
    }
  }
  return { ok: true, values, merchant };
}

// ---------------------------------------------------------------------------------------------------------------
// Operations

export interface OperationOutcome {
  answer: ApiAnswer;
  notices: Notice[];
}

export interface Operation {
  rules: readonly ParamRule[];
  run(values: Record<string, string | undefined>, state: ApiState): OperationOutcome;
}

const answer = (a: ApiAnswer, notices: Notice[] = []): OperationOutcome => ({ answer: a, notices });

/** Finds the authorization a request names, refusing as Yuansfer would: unknown `000021`, another store's `000022`. */
function lookup(values: Record<string, string | undefined>, state: ApiState): Authorization | ApiAnswer {
  const found = state.authorizations.get(values.autoDebitNo as string);
  if (!found) return fail(RET.NO_RELATED_INFORMATION, 'no related information : autoDebitNo');
  if (found.merchantNo !== values.merchantNo || found.storeNo !== values.storeNo) {
    return fail(RET.PARAMETERS_MISMATCH, 'parameters do not match : autoDebitNo');
  }
  return found;
}

const isAnswer = (value: Authorization | ApiAnswer): value is ApiAnswer => 'body' in value;

const wapOrApp = (values: Readonly<Record<string, string | undefined>>) => values.terminal === 'WAP' || values.terminal === 'APP';

/** The vendor as the result objects show it (`"vendor": "GCASH"` in every example). */
const vendorName = (vendor: string) => vendor.toUpperCase();

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  consult: {
    rules: [
      { name: 'vendor', required: true, oneOf: VENDORS, anyCase: true },
      { name: 'terminal', required: true, oneOf: TERMINALS },
      { name: 'autoReference', required: true, maxLength: 64 },
      { name: 'autoRedirectUrl', required: true, pattern: HTTP_URL, maxLength: 1024 },
      { name: 'autoIpnUrl', required: false, pattern: HTTP_URL, maxLength: 1024 },
      { name: 'note', required: false, maxLength: 1024 },
      // "When the terminal is WAP or APP we need this parameter."
      { name: 'osType', required: wapOrApp, oneOf: OS_TYPES },
      { name: 'osVersion', required: wapOrApp, maxLength: 32 },
    ],
    run(values, state) {
      const autoDebitNo = newNumber((no) => state.authorizations.has(no));
      const authorization: Authorization = {
        autoDebitNo,
        merchantNo: values.merchantNo as string,
        storeNo: values.storeNo as string,
        vendor: values.vendor as string,
        terminal: values.terminal as string,
        autoReference: values.autoReference as string,
        note: values.note ?? null,
        autoIpnUrl: values.autoIpnUrl ?? null,
        autoRedirectUrl: values.autoRedirectUrl ?? null,
        osType: values.osType ?? null,
        osVersion: values.osVersion ?? null,
        status: 'PENDING',
        createdAt: state.now,
        authorizedAt: null,
        revokedAt: null,
        accessTokenExpiresAt: null,
        refreshTokenExpiresAt: null,
        payments: [],
      };
      state.authorizations.set(autoDebitNo, authorization);
      const authUrl = `${state.authUrlBase}/${autoDebitNo}?authState=${autoDebitNo}&merchantName=Yuansfer_Sandbox`;
      return answer(ok('consult success', { authUrl, autoDebitNo, autoReference: authorization.autoReference, vendor: vendorName(authorization.vendor) }));
    },
  },

  'apply-token': {
    rules: [
      { name: 'autoDebitNo', required: true, maxLength: 64 },
      { name: 'grantType', required: true, oneOf: GRANT_TYPES },
    ],
    run(values, state) {
      const found = lookup(values, state);
      if (isAnswer(found)) return answer(found);
      if (found.status === 'PENDING') return answer(fail(RET.STATUS_ERROR, 'transaction status error : the payer has not authorized yet'));
      if (found.status === 'REVOKED') return answer(fail(RET.STATUS_ERROR, 'transaction status error : the authorization is revoked'));
      if (values.grantType === 'REFRESH_TOKEN') {
        if (found.refreshTokenExpiresAt === null) return answer(fail(RET.STATUS_ERROR, 'transaction status error : no token to refresh'));
        if (found.refreshTokenExpiresAt <= state.now) return answer(fail(RET.STATUS_ERROR, 'transaction status error : the refresh token expired'));
        found.accessTokenExpiresAt = state.now + ACCESS_TOKEN_MS;
        found.refreshTokenExpiresAt = state.now + REFRESH_TOKEN_MS;
      } else if (found.accessTokenExpiresAt === null) {
        // Yuansfer holds the authorization code; asking again for an authorization whose token is issued returns
        // that token's times (inferred: the docs do not say whether the code can be exchanged twice).
        found.accessTokenExpiresAt = state.now + ACCESS_TOKEN_MS;
        found.refreshTokenExpiresAt = state.now + REFRESH_TOKEN_MS;
      }
      return answer(
        ok('apply success', {
          accessTokenExpiryTime: chinaIso(found.accessTokenExpiresAt as number),
          autoDebitNo: found.autoDebitNo,
          autoReference: found.autoReference,
          vendor: vendorName(found.vendor),
          refreshTokenExpiryTime: chinaIso(found.refreshTokenExpiresAt as number),
        }),
      );
    },
  },

  pay: {
    rules: [
      { name: 'vendor', required: true, oneOf: VENDORS, anyCase: true },
      { name: 'autoDebitNo', required: true, maxLength: 64 },
      { name: 'amount', required: true, pattern: AMOUNT },
      { name: 'currency', required: true, oneOf: CURRENCIES },
      { name: 'settleCurrency', required: true, oneOf: CURRENCIES },
      { name: 'reference', required: true, maxLength: 64 },
      { name: 'ipnUrl', required: true, pattern: HTTP_URL, maxLength: 1024 },
    ],
    run(values, state) {
      const found = lookup(values, state);
      if (isAnswer(found)) return answer(found);
      if ((values.vendor as string).toLowerCase() !== found.vendor.toLowerCase()) {
        return answer(fail(RET.PARAMETERS_MISMATCH, 'parameters do not match : vendor'));
      }
      if (found.status !== 'ACTIVE') return answer(fail(RET.STATUS_ERROR, `transaction status error : the authorization is ${found.status.toLowerCase()}`));
      if (found.accessTokenExpiresAt === null || found.accessTokenExpiresAt <= state.now) {
        return answer(fail(RET.STATUS_ERROR, 'transaction status error : no valid token, apply for one first'));
      }
      const payment: Payment = {
        transactionNo: newNumber((no) => found.payments.some((p) => p.transactionNo === no)),
        amount: values.amount as string,
        currency: values.currency as string,
        settleCurrency: values.settleCurrency as string,
        reference: values.reference as string,
        ipnUrl: values.ipnUrl as string,
        createdAt: state.now,
      };
      found.payments.push(payment);
      return answer(
        ok('pay success', {
          amount: Number(payment.amount),
          autoDebitNo: found.autoDebitNo,
          currency: payment.currency,
          settleCurrency: payment.settleCurrency,
          reference: payment.reference,
          transactionNo: payment.transactionNo,
        }),
        [{ kind: 'payment', authorization: found, payment }],
      );
    },
  },

  // Seed 004.
  revoke: {
    rules: [{ name: 'autoDebitNo', required: true, maxLength: 64 }],
    run(values, state) {
      const found = lookup(values, state);
      if (isAnswer(found)) return answer(found);
      if (found.status === 'REVOKED') return answer(fail(RET.STATUS_ERROR, 'transaction status error : the authorization is already revoked'));
      found.status = 'REVOKED';
      found.revokedAt = state.now;
      return answer(
        ok('revoke success', { autoDebitNo: found.autoDebitNo, autoReference: found.autoReference, vendor: vendorName(found.vendor) }),
        [{ kind: 'revoked', authorization: found }],
      );
    },
  },
};

/** One request: the common checks, then the operation. */
export function handleOperation(name: string, params: Record<string, unknown> | undefined, state: ApiState): OperationOutcome {
  const operation = OPERATIONS[name];
  const checked = checkRequest(params, operation.rules, state.merchants);
  if (!checked.ok) return answer(checked.answer);
  return operation.run(checked.values, state);
}
