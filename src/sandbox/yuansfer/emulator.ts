import express from 'express';
import {
  adminRoute,
  badRequest,
  conflict,
  notFound,
  type Emulator,
  type EmulatorRequest,
  type FaultReplies,
  type ProviderKit,
} from '../kit';
import {
  ACCESS_TOKEN_MS,
  OPERATIONS,
  REFRESH_TOKEN_MS,
  RET,
  VENDORS,
  chinaIso,
  handleOperation,
  ipnTime,
  newNumber,
  paramsFromForm,
  paramsFromJson,
  type ApiState,
  type Authorization,
  type Merchant,
  type Notice,
} from './api';
import { computeVerifySign } from './verify-sign';

/**
 * The Yuansfer auto-debit emulator: `POST /auto-debit/v3/{consult,apply-token,pay,revoke}` (mounted at
 * `/yuansfer`), the form-encoded IPNs with `verifySign`, and admin hooks to create, authorize and revoke
 * authorizations as the payer would.
 */

export interface YuansferEmulatorOptions {
  /**
   * Merchants: merchantNo → API token and store numbers. Replaces the default, the merchant of the docs' examples
   * (`200043`, store `300014`) with the token of the doc vectors.
   */
  merchants?: Record<string, Merchant>;
  /** Base of the generated `authUrl`s. Default `https://yuansfer-sandbox.invalid/auto-debit/authorize`. */
  authUrlBase?: string;
}

/** The admin view of an authorization (`GET /_admin/yuansfer/auto-debits/{autoDebitNo}`), times as ISO strings. */
export interface AuthorizationView {
  autoDebitNo: string;
  merchantNo: string;
  storeNo: string;
  vendor: string;
  terminal: string;
  autoReference: string;
  note: string | null;
  status: Authorization['status'];
  createdAt: string;
  authorizedAt: string | null;
  revokedAt: string | null;
  accessTokenExpiryTime: string | null;
  refreshTokenExpiryTime: string | null;
  payments: Array<{ transactionNo: string; amount: string; currency: string; reference: string }>;
}

export interface CreateAuthorizationInput {
  autoDebitNo?: string;
  merchantNo?: string;
  storeNo?: string;
  vendor?: string;
  autoReference?: string;
  note?: string;
  /** Where its IPNs go; default: the sandbox's callback URL for Yuansfer. */
  autoIpnUrl?: string;
  /** Also send the authorization IPN, as if the payer had just authorized. */
  notify?: boolean;
}

export interface YuansferEmulator extends Emulator {
  readonly name: 'yuansfer';
  /** An ACTIVE authorization with its token issued, ready to pay. */
  createAuthorization(input?: CreateAuthorizationInput): { autoDebitNo: string; callbackId?: string };
  /** The payer completes the authorization: ACTIVE, and the authorization IPN. */
  authorize(autoDebitNo: string): { autoDebitNo: string; status: 'ACTIVE'; callbackId: string };
  /** The payer revokes in their wallet: REVOKED, and the revocation IPN. */
  revokeAsPayer(autoDebitNo: string): { autoDebitNo: string; status: 'REVOKED'; callbackId: string };
  getAuthorization(autoDebitNo: string): AuthorizationView | undefined;
}

export const DEFAULT_MERCHANT_NO = '200043';
export const DEFAULT_STORE_NO = '300014';
/** The token of docs/providers/yuansfer.md's doc vectors: published, never a real merchant's. */
export const DEFAULT_TOKEN = '5cbfb079f15b150122261c8537086d77a';

/** Names a drop-callback fault's `match` may use (or the autoDebitNo). */
export const YUANSFER_IPN_EVENTS = {
  authorized: 'auto-debit.authorized',
  revoked: 'auto-debit.revoked',
  payment: 'auto-debit.payment',
} as const;

/** "Yuansfer will resend … up to 8 times within 2 hours." */
const IPN_RETRIES = 8;
/**
 * The spacing is not published; these add up to 1 h 49 min, inside the documented two hours. Test sandboxes
 * override them with `callbackRetryDelaysMs`.
 */
const IPN_DELAYS_MS = [15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];

/**
 * Yuansfer documents no rate-limit code. A throttled request gets HTTP 429 with the system-error envelope; an
 * injected error fault answers like any refusal, HTTP 400 with the envelope.
 */
const faultReplies: FaultReplies = {
  error: (fault) => ({ status: 400, body: { ret_code: fault.code ?? RET.SYSTEM_ERROR, ret_msg: fault.message ?? 'system error' } }),
  rateLimit: () => ({ status: 429, body: { ret_code: RET.SYSTEM_ERROR, ret_msg: 'system busy, please retry later' } }),
};

const CREATE_FIELDS = ['autoDebitNo', 'merchantNo', 'storeNo', 'vendor', 'autoReference', 'note', 'autoIpnUrl', 'notify'] as const;
const NUMBER = /^[A-Za-z0-9_-]{1,64}$/;

function parseCreateInput(body: unknown): CreateAuthorizationInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!(CREATE_FIELDS as readonly string[]).includes(key)) throw badRequest(`unknown field "${key}"; allowed: ${CREATE_FIELDS.join(', ')}`, key);
  }
  const input: CreateAuthorizationInput = {};
  for (const field of ['autoDebitNo', 'merchantNo', 'storeNo', 'vendor', 'autoReference', 'note', 'autoIpnUrl'] as const) {
    const value = b[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '') throw badRequest(`${field} must be a non-empty string`, field);
    input[field] = value;
  }
  if (input.autoDebitNo !== undefined && !NUMBER.test(input.autoDebitNo)) {
    throw badRequest('autoDebitNo must be 1 to 64 letters, digits, "_" or "-"', 'autoDebitNo');
  }
  if (input.vendor !== undefined && !(VENDORS as readonly string[]).includes(input.vendor.toLowerCase())) {
    throw badRequest(`vendor must be one of ${VENDORS.join(', ')}`, 'vendor');
  }
  if (input.autoIpnUrl !== undefined && !/^https?:\/\//i.test(input.autoIpnUrl)) throw badRequest('autoIpnUrl must be an http(s) URL', 'autoIpnUrl');
  if (b.notify !== undefined) {
    if (typeof b.notify !== 'boolean') throw badRequest('notify must be true or false', 'notify');
    input.notify = b.notify;
  }
  return input;
}

export function createYuansferEmulator(kit: ProviderKit, options: YuansferEmulatorOptions = {}): YuansferEmulator {
  const merchants = new Map<string, Merchant>(
    Object.entries(options.merchants ?? { [DEFAULT_MERCHANT_NO]: { token: DEFAULT_TOKEN, stores: [DEFAULT_STORE_NO] } }),
  );
  if (merchants.size === 0) throw new Error('Yuansfer emulator: at least one merchant is needed');
  const authUrlBase = (options.authUrlBase ?? 'https://yuansfer-sandbox.invalid/auto-debit/authorize').replace(/\/+$/, '');
  const authorizations = new Map<string, Authorization>();
  const state = (): ApiState => ({ merchants, authorizations, now: kit.clock.now(), authUrlBase });

  /**
   * Sends an IPN form-encoded with `verifySign` under the merchant's token. The form is serialised once, so every
   * resend carries the same bytes; only the plain answer `success` stops the resends.
   */
  function sendIpn(notice: Notice): { callbackId: string } {
    const a = notice.authorization;
    const merchant = merchants.get(a.merchantNo) as Merchant;
    let params: Record<string, string>;
    let url: string;
    if (notice.kind === 'payment') {
      const p = notice.payment;
      params = { transactionNo: p.transactionNo, status: 'success', amount: p.amount, currency: p.currency, settleCurrency: p.settleCurrency, reference: p.reference, time: ipnTime(p.createdAt) };
      url = p.ipnUrl;
    } else {
      // The documented notice: autoDebitNo, autoReference, vendor, time, note. The revocation notice is not
      // documented; it is the same fields plus status=revoked (inferred), its time the revocation's.
      params = {
        autoDebitNo: a.autoDebitNo,
        autoReference: a.autoReference,
        vendor: a.vendor,
        time: ipnTime((notice.kind === 'revoked' ? a.revokedAt : a.authorizedAt) ?? kit.clock.now()),
      };
      if (a.note) params.note = a.note;
      if (notice.kind === 'revoked') params.status = 'revoked';
      url = a.autoIpnUrl ?? kit.callbackUrl();
    }
    const body = new URLSearchParams({ ...params, verifySign: computeVerifySign(params, merchant.token) }).toString();
    const { delivery } = kit.deliver({
      url,
      event: YUANSFER_IPN_EVENTS[notice.kind],
      subject: a.autoDebitNo,
      body,
      contentType: 'application/x-www-form-urlencoded; charset=utf-8',
      isAcknowledged: (status, text) => status >= 200 && status < 300 && text.trim() === 'success',
      retries: IPN_RETRIES,
      delaysMs: (retry) => IPN_DELAYS_MS[Math.min(retry, IPN_DELAYS_MS.length) - 1],
    });
    return { callbackId: delivery.id };
  }

  const router = express.Router();
  for (const name of Object.keys(OPERATIONS)) {
    router.post(
      `/auto-debit/v3/${name}`,
      kit.handler({
        operation: () => name,
        faults: faultReplies,
        handle: (request: EmulatorRequest) => {
          // The docs show JSON bodies; a form body (the IPNs' encoding) is read too rather than refused.
          const isForm = (request.header('content-type') ?? '').toLowerCase().includes('application/x-www-form-urlencoded');
          const params = !isForm && request.json !== undefined ? paramsFromJson(request.json) : paramsFromForm(request.form);
          const outcome = handleOperation(name, params, state());
          for (const notice of outcome.notices) sendIpn(notice);
          return { status: outcome.answer.status, body: outcome.answer.body };
        },
      }),
    );
  }

  function find(autoDebitNo: string): Authorization {
    const found = authorizations.get(autoDebitNo);
    if (!found) throw notFound(`no yuansfer authorization "${autoDebitNo}"`);
    return found;
  }

  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

  function view(a: Authorization): AuthorizationView {
    return {
      autoDebitNo: a.autoDebitNo,
      merchantNo: a.merchantNo,
      storeNo: a.storeNo,
      vendor: a.vendor,
      terminal: a.terminal,
      autoReference: a.autoReference,
      note: a.note,
      status: a.status,
      createdAt: new Date(a.createdAt).toISOString(),
      authorizedAt: iso(a.authorizedAt),
      revokedAt: iso(a.revokedAt),
      accessTokenExpiryTime: a.accessTokenExpiresAt === null ? null : chinaIso(a.accessTokenExpiresAt),
      refreshTokenExpiryTime: a.refreshTokenExpiresAt === null ? null : chinaIso(a.refreshTokenExpiresAt),
      payments: a.payments.map((p) => ({ transactionNo: p.transactionNo, amount: p.amount, currency: p.currency, reference: p.reference })),
    };
  }

  const emulator: YuansferEmulator = {
    name: 'yuansfer',
    router,

    reset() {
      authorizations.clear();
    },

    createAuthorization(input: CreateAuthorizationInput = {}) {
      const merchantNo = input.merchantNo ?? [...merchants.keys()][0];
      const merchant = merchants.get(merchantNo);
      if (!merchant) throw badRequest(`merchantNo "${merchantNo}" is not a merchant of this sandbox`, 'merchantNo');
      const storeNo = input.storeNo ?? merchant.stores[0];
      if (!merchant.stores.includes(storeNo)) throw badRequest(`storeNo "${storeNo}" is not a store of merchant ${merchantNo}`, 'storeNo');
      const autoDebitNo = input.autoDebitNo ?? newNumber((no) => authorizations.has(no));
      if (authorizations.has(autoDebitNo)) throw conflict(`yuansfer authorization "${autoDebitNo}" already exists`, 'autoDebitNo');
      const now = kit.clock.now();
      const authorization: Authorization = {
        autoDebitNo,
        merchantNo,
        storeNo,
        vendor: input.vendor ?? 'alipay',
        terminal: 'ONLINE',
        autoReference: input.autoReference ?? `sandbox_${autoDebitNo}`,
        note: input.note ?? null,
        autoIpnUrl: input.autoIpnUrl ?? null,
        autoRedirectUrl: null,
        osType: null,
        osVersion: null,
        status: 'ACTIVE',
        createdAt: now,
        authorizedAt: now,
        revokedAt: null,
        accessTokenExpiresAt: now + ACCESS_TOKEN_MS,
        refreshTokenExpiresAt: now + REFRESH_TOKEN_MS,
        payments: [],
      };
      authorizations.set(autoDebitNo, authorization);
      if (!input.notify) return { autoDebitNo };
      return { autoDebitNo, callbackId: sendIpn({ kind: 'authorized', authorization }).callbackId };
    },

    authorize(autoDebitNo: string) {
      const a = find(autoDebitNo);
      if (a.status === 'REVOKED') throw conflict(`yuansfer authorization "${autoDebitNo}" is revoked; start a new one`);
      // Authorizing again (ACTIVE) sends the notice again: a test may need a second, distinct notice.
      a.status = 'ACTIVE';
      a.authorizedAt = kit.clock.now();
      return { autoDebitNo, status: 'ACTIVE' as const, callbackId: sendIpn({ kind: 'authorized', authorization: a }).callbackId };
    },

    revokeAsPayer(autoDebitNo: string) {
      const a = find(autoDebitNo);
      if (a.status === 'REVOKED') throw conflict(`yuansfer authorization "${autoDebitNo}" is already revoked`);
      a.status = 'REVOKED';
      a.revokedAt = kit.clock.now();
      return { autoDebitNo, status: 'REVOKED' as const, callbackId: sendIpn({ kind: 'revoked', authorization: a }).callbackId };
    },

    getAuthorization(autoDebitNo: string) {
      const a = authorizations.get(autoDebitNo);
      return a ? view(a) : undefined;
    },

    listFlows() {
      return [...authorizations.values()].map(view);
    },

    exportState() {
      return { authorizations: [...authorizations.values()] };
    },

    importState(state: unknown) {
      authorizations.clear();
      const list = typeof state === 'object' && state !== null ? (state as { authorizations?: unknown }).authorizations : undefined;
      if (!Array.isArray(list)) return;
      for (const a of list as Authorization[]) if (typeof a?.autoDebitNo === 'string') authorizations.set(a.autoDebitNo, a);
    },

    adminRoutes(admin) {
      admin.post('/auto-debits', adminRoute((body) => emulator.createAuthorization(parseCreateInput(body)), 201));
      admin.get(
        '/auto-debits/:autoDebitNo',
        adminRoute((_body, req) => view(find(String(req.params.autoDebitNo)))),
      );
      admin.post(
        '/auto-debits/:autoDebitNo/authorize',
        adminRoute((_body, req) => emulator.authorize(String(req.params.autoDebitNo))),
      );
      admin.post(
        '/auto-debits/:autoDebitNo/revoke',
        adminRoute((_body, req) => emulator.revokeAsPayer(String(req.params.autoDebitNo))),
      );
    },
  };
  return emulator;
}
