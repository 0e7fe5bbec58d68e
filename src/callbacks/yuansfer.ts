import type { RequestHandler, Response } from 'express';
import { AUTO_DEBIT_NO } from '../domain/autodebit';
import type { AutoDebitNotice, AutoDebitService } from '../lifecycle/autodebit';
import type { Logger } from '../logger';
import { ProviderError } from '../providers/errors';
import { noticeKind, parseYuansferTime, YUANSFER } from '../providers/yuansfer/mapping';
import { checkVerifySign } from '../providers/yuansfer/signing';
import { markDuplicate } from './observe';

/** The notice, or why it was refused: 401 when the signature fails (nothing else is read) or the notice is stale, 400 for a bad field. */
export type ParsedIpn = { ok: true; notice: AutoDebitNotice } | { ok: false; status: 400 | 401; field: string; message: string };

/**
 * How old a notice's signed `time` may be. `time` is when the authorization happened and stays the same on every
 * resend; Yuansfer resends for 2 hours, so a day is twelve times the longest genuine delay. Older is a replay of a
 * captured notice and is refused without storing anything.
 */
export const YUANSFER_IPN_MAX_AGE_MS = 24 * 3600_000;
/** How far ahead of our clock `time` may be (clocks differ; Yuansfer's is read as UTC+8). */
export const YUANSFER_IPN_MAX_SKEW_MS = 15 * 60_000;

/** Lengths the docs do not give; generous, because refusing a genuine IPN would lose it. */
const MAX_TEXT = { autoReference: 128, vendor: 64, note: 1024 } as const;

/**
 * Reads an `application/x-www-form-urlencoded` body. A repeated name is refused: only one value can have been
 * signed, and picking one would let a forger append the other.
 */
export function parseForm(raw: Buffer | string): { ok: true; params: Record<string, string> } | { ok: false; field: string; message: string } {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim() === '') return { ok: false, field: '(body)', message: 'body is empty; a form-encoded IPN was expected' };
  const params: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.prototype.hasOwnProperty.call(params, name)) return { ok: false, field: name, message: `${name} appears more than once` };
    params[name] = value;
  }
  return { ok: true, params };
}

/**
 * Verifies and validates an authorization IPN (docs/providers/yuansfer.md "IPN"): form fields, then `verifySign` over all of
 * them with the API token, and only then the fields themselves. Pure: no clock is needed, because `time` is when
 * the authorization happened and stays the same on every resend, so no freshness window can apply; a replayed
 * notice is harmless (deduplicated, and statuses only move forward).
 *
 * Dedupe identity: `autoDebitNo|kind|time`. A resend repeats the notice unchanged, so these three are equal; a
 * different notice about the same authorization differs in kind (authorized, revoked) or time. The body hash
 * would also work for byte-identical resends, but not if Yuansfer re-encodes the form (order, `+` for spaces).
 */
export function parseYuansferIpn(raw: Buffer | string, token: string, now?: number): ParsedIpn {
  const form = parseForm(raw);
  if (!form.ok) return { ok: false, status: 400, field: form.field, message: form.message };
  const params = form.params;
  if (!params.verifySign) return { ok: false, status: 401, field: 'verifySign', message: 'verifySign is missing' };
  if (!checkVerifySign(params, token)) {
    return { ok: false, status: 401, field: 'verifySign', message: 'verifySign does not match the parameters signed with this merchant\'s API token' };
  }

  const autoDebitNo = params.autoDebitNo;
  if (!autoDebitNo) return { ok: false, status: 400, field: 'autoDebitNo', message: 'autoDebitNo is required (a payment IPN was sent to the authorization URL?)' };
  if (!AUTO_DEBIT_NO.test(autoDebitNo)) return { ok: false, status: 400, field: 'autoDebitNo', message: 'autoDebitNo must be 1 to 64 letters, digits, "_" or "-"' };
  const kind = noticeKind(params.status);
  if (!kind) return { ok: false, status: 400, field: 'status', message: 'status must be absent (authorized) or "revoked"' };
  if (!params.time) return { ok: false, status: 400, field: 'time', message: 'time is required' };
  const time = parseYuansferTime(params.time);
  if (!time) return { ok: false, status: 400, field: 'time', message: 'time must be YYYYMMDDHHMMSS' };
  if (now !== undefined && now - time.getTime() > YUANSFER_IPN_MAX_AGE_MS) {
    return { ok: false, status: 401, field: 'time', message: `time is more than ${YUANSFER_IPN_MAX_AGE_MS / 3600_000} hours old; a replayed notice is not taken` };
  }
  if (now !== undefined && time.getTime() - now > YUANSFER_IPN_MAX_SKEW_MS) {
    return { ok: false, status: 401, field: 'time', message: `time is more than ${YUANSFER_IPN_MAX_SKEW_MS / 60_000} minutes ahead of this server's clock` };
  }

  // The field table calls the channel `vendor`; the text beside it `customerBelongsTo`.
  const vendor = params.vendor || params.customerBelongsTo || undefined;
  const optional = { autoReference: params.autoReference || undefined, vendor, note: params.note || undefined };
  for (const name of ['autoReference', 'vendor', 'note'] as const) {
    const value = optional[name];
    if (value !== undefined && [...value].length > MAX_TEXT[name]) {
      return { ok: false, status: 400, field: name, message: `${name} must be at most ${MAX_TEXT[name]} characters` };
    }
  }
  return {
    ok: true,
    notice: {
      kind,
      autoDebitNo,
      autoReference: optional.autoReference ?? null,
      vendor: optional.vendor ?? null,
      note: optional.note ?? null,
      time,
      receipt: { dedupeKey: `${autoDebitNo}|${kind}|${params.time}`, body: typeof raw === 'string' ? raw : raw.toString('utf8') },
    },
  };
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/** Anything but the plain `success` makes Yuansfer resend; refusals are JSON with a code, like every other answer. */
const CODES = { 400: 'BAD_REQUEST', 401: 'UNAUTHENTICATED', 500: 'NOT_STORED', 502: 'NOT_STORED', 503: 'PROVIDER_NOT_CONFIGURED' } as const;

/**
 * POST /callbacks/yuansfer. Answers the plain string `success` only once the notice is stored; any other answer
 * makes Yuansfer resend (up to 8 times within 2 hours), so a failure to store or to apply for the token answers
 * `fail` rather than lose the notice. Forged notices are refused with 401 and nothing is stored.
 */
export function yuansferCallbackHandler(deps: { service: AutoDebitService; token: string | undefined; logger: Logger; now?: () => number }): RequestHandler {
  const now = deps.now ?? Date.now;
  const fail = (res: Response, status: keyof typeof CODES, message: string) => res.status(status).json({ code: CODES[status], message });
  return async (req, res) => {
    if (!deps.token) {
      fail(res, 503, 'Yuansfer is not configured on this server');
      return;
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const parsed = parseYuansferIpn(raw, deps.token, now());
    if (!parsed.ok) {
      deps.logger.warn({ provider: YUANSFER, field: parsed.field, status: parsed.status }, `refused Yuansfer IPN: ${parsed.message}`);
      fail(res, parsed.status, `${parsed.field}: ${parsed.message}`);
      return;
    }
    try {
      const result = await deps.service.acceptNotice(parsed.notice);
      if (result.duplicate) markDuplicate(res);
      res.status(200).set(TEXT).send('success');
    } catch (error) {
      const upstream = error instanceof ProviderError;
      deps.logger.error(
        { err: upstream ? error.message : error, provider: YUANSFER, autoDebitNo: parsed.notice.autoDebitNo },
        'Yuansfer IPN could not be stored; Yuansfer will resend it',
      );
      fail(res, upstream ? 502 : 500, 'not stored, please resend');
    }
  };
}
