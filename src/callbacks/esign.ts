import type { RequestHandler } from 'express';
import type { RescissionReason } from '../domain/rescission';
import type { FlowRecorder } from '../lifecycle/recorder';
import type { RescissionService } from '../lifecycle/rescission';
import type { Logger } from '../logger';
import { esignTime } from '../providers/esign/client';
import { esignStatus, rescissionReasonOf } from '../providers/esign/mapping';
import { ESIGN_DEFAULT_TOLERANCE_MS, verifyEsignCallback, type EsignCallbackVerdict } from '../providers/esign/signing';
import { markDuplicate } from './observe';

/**
 * How old an X-Tsign-Open-TIMESTAMP may be. e签宝 retries a callback 16 times "over many hours" and keeps the
 * body's `timestamp` (the event's time) across retries; the header timestamp is, on our reading, stamped afresh
 * for each push, since it is the signature's own time — but nothing published says so. A window covering the
 * whole retry horizon means a legitimate retry is never refused either way; what the wider window admits is only
 * a replay of a genuine callback, which changes nothing (receipts dedupe it, statuses only move forward).
 */
export const ESIGN_CALLBACK_MAX_AGE_MS = 48 * 3600_000;
/** How far ahead of our clock a timestamp may be: e签宝's own 15 minutes. */
export const ESIGN_CALLBACK_MAX_SKEW_MS = ESIGN_DEFAULT_TOLERANCE_MS;

export type Parsed<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

interface CallbackBase {
  /** The body's `timestamp`: when the event happened, the same on every retry (ms). */
  timestamp: number;
  signFlowId: string;
}

/** The actions the API acts on (docs/providers/esign.md "Callbacks"); any other is acknowledged and ignored. */
export type EsignCallback =
  | (CallbackBase & { action: 'SIGN_FLOW_COMPLETE'; signFlowStatus: '2' | '3' | '5' | '7'; finishTime: Date | null })
  | (CallbackBase & {
      action: 'SIGN_FILE_RESCISSION_INITIATE';
      rescissionSignFlowId: string;
      rescissionFileIds: string[];
      rescindReason: RescissionReason | null;
      rescindReasonNotes: string | null;
    })
  | (CallbackBase & { action: 'SIGN_FILE_RESCINDED'; rescissionSignFlowId: string; rescissionFileIds: string[] })
  | { action: 'IGNORED'; name: string };

const FLOW_ID = /^[A-Za-z0-9_\-.]{1,64}$/;
const FINISHED = ['2', '3', '5', '7'] as const;

/** Validates a callback body at the edge; the failure names the field. */
export function parseEsignCallback(raw: Buffer | string): Parsed<EsignCallback> {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, field: '(body)', message: 'body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, field: '(body)', message: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  if (typeof b.action !== 'string' || b.action.trim() === '') return { ok: false, field: 'action', message: 'action must be a non-empty string' };
  const action = b.action;
  if (action !== 'SIGN_FLOW_COMPLETE' && action !== 'SIGN_FILE_RESCISSION_INITIATE' && action !== 'SIGN_FILE_RESCINDED') {
    return { ok: true, value: { action: 'IGNORED', name: action } };
  }

  const timestamp = b.timestamp;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    return { ok: false, field: 'timestamp', message: 'timestamp must be milliseconds since the epoch' };
  }
  const id = (field: string): Parsed<string> => {
    const value = b[field];
    if (typeof value !== 'string') return { ok: false, field, message: `${field} must be a string` };
    if (!FLOW_ID.test(value)) return { ok: false, field, message: `${field} must be 1 to 64 letters, digits, "_", "-" or "."` };
    return { ok: true, value };
  };
  const signFlowId = id('signFlowId');
  if (!signFlowId.ok) return signFlowId;

  if (action === 'SIGN_FLOW_COMPLETE') {
    // A string here (docs/providers/esign.md); an integer is read too rather than lose a callback over its spelling.
    const raw = typeof b.signFlowStatus === 'number' ? String(b.signFlowStatus) : b.signFlowStatus;
    if (typeof raw !== 'string' || !(FINISHED as readonly string[]).includes(raw)) {
      return { ok: false, field: 'signFlowStatus', message: 'signFlowStatus must be one of "2", "3", "5", "7"' };
    }
    const finish = b.signFlowFinishTime;
    if (finish !== undefined && finish !== null && (typeof finish !== 'number' || !Number.isSafeInteger(finish))) {
      return { ok: false, field: 'signFlowFinishTime', message: 'signFlowFinishTime must be milliseconds since the epoch' };
    }
    return {
      ok: true,
      value: { action, timestamp, signFlowId: signFlowId.value, signFlowStatus: raw as (typeof FINISHED)[number], finishTime: esignTime(finish) },
    };
  }

  const rescissionSignFlowId = id('rescissionSignFlowId');
  if (!rescissionSignFlowId.ok) return rescissionSignFlowId;
  const files = b.rescissionFileIds;
  if (!Array.isArray(files) || files.length === 0 || files.some((f) => typeof f !== 'string' || f.trim() === '')) {
    return { ok: false, field: 'rescissionFileIds', message: 'rescissionFileIds must be a non-empty list of file ids' };
  }
  const base = { timestamp, signFlowId: signFlowId.value, rescissionSignFlowId: rescissionSignFlowId.value, rescissionFileIds: files as string[] };
  if (action === 'SIGN_FILE_RESCINDED') return { ok: true, value: { action, ...base } };

  let reason: RescissionReason | null = null;
  if (b.rescindReason !== undefined && b.rescindReason !== null) {
    reason = typeof b.rescindReason === 'string' || typeof b.rescindReason === 'number' ? (rescissionReasonOf(String(b.rescindReason)) ?? null) : null;
    if (!reason) return { ok: false, field: 'rescindReason', message: 'rescindReason must be one of "1" to "5"' };
  }
  const notes = b.rescindReasonNotes;
  if (notes !== undefined && notes !== null && typeof notes !== 'string') return { ok: false, field: 'rescindReasonNotes', message: 'rescindReasonNotes must be a string' };
  return { ok: true, value: { action, ...base, rescindReason: reason, rescindReasonNotes: typeof notes === 'string' && notes !== '' ? notes : null } };
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Authenticates a callback before its body is parsed: the algorithm and app id (when sent) must be ours, and
 * X-Tsign-Open-SIGNATURE must be HMAC-SHA256(AppSecret, timestamp + our callback URL's own query values sorted by
 * key + raw body) with the timestamp inside the window above. Pure: `now` is injected.
 */
export function authenticateEsignCallback(p: {
  rawBody: Buffer;
  /** Lower-case header names, as node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The query of the URL the callback was posted to. */
  query: Record<string, string | string[]>;
  appId: string;
  appSecret: string;
  now: number;
}): EsignCallbackVerdict {
  const algorithm = header(p.headers, 'x-tsign-open-signature-algorithm');
  if (algorithm !== undefined && algorithm.toLowerCase() !== 'hmac-sha256') return { ok: false, reason: `unsupported signature algorithm ${algorithm}` };
  const appId = header(p.headers, 'x-tsign-open-app-id');
  if (appId !== undefined && appId !== p.appId) return { ok: false, reason: 'X-Tsign-Open-App-Id is not this application' };
  return verifyEsignCallback({
    rawBody: p.rawBody,
    appSecret: p.appSecret,
    timestampHeader: header(p.headers, 'x-tsign-open-timestamp'),
    signatureHeader: header(p.headers, 'x-tsign-open-signature'),
    callbackQuery: p.query,
    now: p.now,
    toleranceMs: ESIGN_CALLBACK_MAX_SKEW_MS,
    maxAgeMs: ESIGN_CALLBACK_MAX_AGE_MS,
  });
}

/** The query string of a request URL as key → value(s), decoded, repeats kept in order. */
export function callbackQuery(originalUrl: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URL(originalUrl, 'http://callback.invalid').searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

export interface EsignCallbackDeps {
  recorder: FlowRecorder;
  rescissions: RescissionService;
  /** Undefined when e签宝 is not configured: callbacks are answered 503 and e签宝 keeps retrying. */
  credentials?: { appId: string; appSecret: string };
  logger: Logger;
  now?: () => number;
}

/** Stores what a verified callback says; every path is safe to run again for a retried delivery. */
async function store(cb: Exclude<EsignCallback, { action: 'IGNORED' }>, raw: string, deps: EsignCallbackDeps): Promise<{ duplicate: boolean; event?: number }> {
  const at = new Date(cb.timestamp);
  switch (cb.action) {
    case 'SIGN_FLOW_COMPLETE': {
      const status = esignStatus(cb.signFlowStatus);
      const result = await deps.recorder.record({
        ref: { provider: 'ESIGN', providerFlowId: cb.signFlowId },
        status,
        providerStatus: cb.signFlowStatus,
        source: 'CALLBACK',
        occurredAt: cb.finishTime ?? at,
        endedAt: cb.finishTime ?? at,
        receipt: { dedupeKey: `${cb.action}|${cb.signFlowId}|${cb.signFlowStatus}|${cb.timestamp}`, body: raw },
      });
      // When the flow is a rescission agreement, its ending unsigned ends the rescission.
      await deps.rescissions.agreementEnded(cb.signFlowId, status, `${cb.action}:${cb.signFlowStatus}`, cb.finishTime ?? at, 'CALLBACK');
      return { duplicate: result.duplicate, event: result.event?.id };
    }
    case 'SIGN_FILE_RESCISSION_INITIATE': {
      const result = await deps.rescissions.recordInitiated({
        signFlow: { provider: 'ESIGN', providerFlowId: cb.signFlowId },
        rescissionFlowId: cb.rescissionSignFlowId,
        status: 'INITIATED',
        providerStatus: cb.action,
        source: 'CALLBACK',
        occurredAt: at,
        fileIds: cb.rescissionFileIds,
        reason: cb.rescindReason,
        notes: cb.rescindReasonNotes,
        receipt: { dedupeKey: `${cb.action}|${cb.rescissionSignFlowId}|${cb.timestamp}`, body: raw },
      });
      return { duplicate: result.duplicate, event: result.event?.id };
    }
    case 'SIGN_FILE_RESCINDED': {
      const result = await deps.rescissions.recordRescinded({
        signFlow: { provider: 'ESIGN', providerFlowId: cb.signFlowId },
        rescissionFlowId: cb.rescissionSignFlowId,
        status: 'RESCINDED',
        providerStatus: cb.action,
        source: 'CALLBACK',
        occurredAt: at,
        fileIds: cb.rescissionFileIds,
        receipt: { dedupeKey: `${cb.action}|${cb.rescissionSignFlowId}|${cb.timestamp}`, body: raw },
      });
      return { duplicate: result.duplicate, event: result.event?.id };
    }
  }
}

/**
 * POST /callbacks/esign. Verifies the raw bytes first (401 and nothing stored on failure), then parses, stores, and
 * answers 2xx only after the commit; a failure to store answers 500 so e签宝 retries.
 */
export function esignCallbackHandler(deps: EsignCallbackDeps): RequestHandler {
  const now = deps.now ?? Date.now;
  return async (req, res) => {
    if (!deps.credentials) {
      res.status(503).json({ code: '503', msg: 'e签宝 is not configured on this server' });
      return;
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = authenticateEsignCallback({
      rawBody: raw,
      headers: req.headers,
      query: callbackQuery(req.originalUrl),
      appId: deps.credentials.appId,
      appSecret: deps.credentials.appSecret,
      now: now(),
    });
    if (!verdict.ok) {
      deps.logger.warn({ provider: 'ESIGN', reason: verdict.reason }, 'refused e签宝 callback');
      res.status(401).json({ code: '401', msg: 'signature check failed' });
      return;
    }
    const parsed = parseEsignCallback(raw);
    if (!parsed.ok) {
      deps.logger.warn({ provider: 'ESIGN', field: parsed.field }, `refused e签宝 callback: ${parsed.message}`);
      res.status(400).json({ code: '400', msg: `${parsed.field}: ${parsed.message}` });
      return;
    }
    const cb = parsed.value;
    if (cb.action === 'IGNORED') {
      deps.logger.info({ provider: 'ESIGN', action: cb.name }, 'e签宝 callback acknowledged, not used');
      res.status(200).json({ code: '200', msg: 'success' });
      return;
    }
    try {
      const result = await store(cb, raw.toString('utf8'), deps);
      if (result.duplicate) markDuplicate(res);
      deps.logger.info({ provider: 'ESIGN', action: cb.action, flow: cb.signFlowId, ...result }, 'e签宝 callback stored');
      res.status(200).json({ code: '200', msg: 'success' });
    } catch (error) {
      deps.logger.error({ err: error, provider: 'ESIGN', action: cb.action }, 'e签宝 callback could not be stored; e签宝 will retry');
      res.status(500).json({ code: '500', msg: 'not stored, please retry' });
    }
  };
}
