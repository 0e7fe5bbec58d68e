import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { FlowRecorder } from '../lifecycle/recorder';
import type { Logger } from '../logger';
import { parseChinaTime } from '../providers/etc/client';
import { etcStatus } from '../providers/etc/mapping';
import { providerLink } from '../security/urls';
import { markDuplicate } from './observe';

/** Seed 001: the platform's sign-flow callback. */
export interface EtcCallback {
  sign_end_time: string;
  sign_flow_status: '2' | '3' | '5' | '7';
  sign_flow_id: string;
  sign_file_url: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

const STATUSES = ['2', '3', '5', '7'] as const;

/**
 * Validates the seed-001 body at the edge. Lengths follow the seed (32, 32, 32, 128) except the flow id, which is
 * allowed the 64 characters the revoke API accepts for the same id: refusing a real callback would lose it.
 */
export function parseEtcCallback(raw: Buffer | string): Parsed<EtcCallback> {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, field: '(body)', message: 'body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: '(body)', message: 'body must be a JSON object' };
  }
  const b = body as Record<string, unknown>;
  const text = (field: string, max: number, allowEmpty = false): Parsed<string> => {
    const value = b[field];
    if (value === undefined || value === null) return { ok: false, field, message: `${field} is required` };
    if (typeof value !== 'string') return { ok: false, field, message: `${field} must be a string` };
    if (!allowEmpty && value.trim() === '') return { ok: false, field, message: `${field} must not be empty` };
    if ([...value].length > max) return { ok: false, field, message: `${field} must be at most ${max} characters` };
    return { ok: true, value };
  };
  const id = text('sign_flow_id', 64);
  if (!id.ok) return id;
  if (!/^[A-Za-z0-9_\-.]+$/.test(id.value)) return { ok: false, field: 'sign_flow_id', message: 'sign_flow_id has characters a flow id never has' };
  const status = text('sign_flow_status', 32);
  if (!status.ok) return status;
  if (!(STATUSES as readonly string[]).includes(status.value)) {
    return { ok: false, field: 'sign_flow_status', message: 'sign_flow_status must be one of "2", "3", "5", "7"' };
  }
  const end = text('sign_end_time', 32);
  if (!end.ok) return end;
  if (parseChinaTime(end.value) === null) return { ok: false, field: 'sign_end_time', message: 'sign_end_time must be "YYYY-MM-DD HH:mm:ss"' };
  const file = text('sign_file_url', 128, true);
  if (!file.ok) return file;
  return {
    ok: true,
    value: { sign_flow_id: id.value, sign_flow_status: status.value as EtcCallback['sign_flow_status'], sign_end_time: end.value, sign_file_url: file.value },
  };
}

/** The provider signs nothing, so the URL carries a shared secret; compared in constant time. */
export function etcTokenMatches(secret: string | undefined, token: unknown): boolean {
  if (!secret) return true;
  if (typeof token !== 'string') return false;
  // Digests first, so neither the comparison's time nor an early length check tells the secret's length.
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(secret), digest(token));
}

/**
 * POST /callbacks/etc. Answers `{"response_code":"000"}` only after the event is committed; anything else makes
 * the platform retry (3 times), so a failure to store answers 500 rather than lose the callback.
 */
export function etcCallbackHandler(deps: {
  recorder: FlowRecorder;
  secret?: string;
  /** Also accepted when `secret` is set: the emulated ETC's own token (the sandbox never holds the secret). */
  sandboxToken?: string;
  logger: Logger;
}): RequestHandler {
  return async (req, res) => {
    const tokenOk = etcTokenMatches(deps.secret, req.query.token) || (deps.sandboxToken !== undefined && etcTokenMatches(deps.sandboxToken, req.query.token));
    if (!tokenOk) {
      res.status(401).json({ response_code: '401', message: 'token: missing or wrong callback token in the URL' });
      return;
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const parsed = parseEtcCallback(raw);
    if (!parsed.ok) {
      deps.logger.warn({ provider: 'ETC', field: parsed.field }, `refused ETC callback: ${parsed.message}`);
      res.status(400).json({ response_code: '400', message: `${parsed.field}: ${parsed.message}` });
      return;
    }
    const cb = parsed.value;
    const endedAt = parseChinaTime(cb.sign_end_time);
    // Clients show fileUrl as a link: only http(s) is kept; anything else (javascript:, data:) is dropped.
    const fileUrl = providerLink(cb.sign_file_url);
    if (fileUrl === undefined && cb.sign_file_url !== '') {
      deps.logger.warn({ provider: 'ETC', flow: cb.sign_flow_id, field: 'sign_file_url' }, 'ETC callback: sign_file_url is not an http(s) URL; dropped, the rest is stored');
    }
    try {
      const result = await deps.recorder.record({
        ref: { provider: 'ETC', providerFlowId: cb.sign_flow_id },
        status: etcStatus(cb.sign_flow_status),
        providerStatus: cb.sign_flow_status,
        source: 'CALLBACK',
        occurredAt: endedAt,
        endedAt,
        fileUrl,
        // A retry repeats the same body; the same flow, status and time is the same callback.
        receipt: { dedupeKey: `${cb.sign_flow_id}|${cb.sign_flow_status}|${cb.sign_end_time}`, body: raw.toString('utf8') },
      });
      if (result.duplicate) markDuplicate(res);
      deps.logger.info({ provider: 'ETC', flow: cb.sign_flow_id, status: cb.sign_flow_status, duplicate: result.duplicate, event: result.event?.id }, 'ETC callback stored');
      res.status(200).json({ response_code: '000' });
    } catch (error) {
      deps.logger.error({ err: error, provider: 'ETC' }, 'ETC callback could not be stored; the platform will retry');
      res.status(500).json({ response_code: '500', message: 'not stored, please retry' });
    }
  };
}
