import type { RequestHandler } from 'express';
import { isTerminal } from '../domain/model';
import type { CancelService } from '../lifecycle/cancel';
import type { FlowRecorder } from '../lifecycle/recorder';
import type { Logger } from '../logger';
import { TENCENT, tencentCallbackStatus, tencentStatus, type TencentFlowStatus } from '../providers/tencent/mapping';
import { CallbackCryptoError, decryptCallback, verifyContentSignature } from '../providers/tencent/signing';
import { checkCancelTaskResult, isRecord, type CancelFlowsTaskResult } from '../providers/tencent/wire';
import type { Store } from '../store/types';
import { markDuplicate } from './observe';

/** A verified, decrypted and validated Tencent callback (docs/providers/tencent.md "Callbacks"). */
export type TencentCallback =
  /** The empty `{}` the console sends to check a new URL. */
  | { kind: 'probe' }
  | { kind: 'FlowStatusChange'; msgId: string; plaintext: string; flowId: string; status: TencentFlowStatus; occurredAt: Date | null }
  /** `result` null: the message names the task but carries no result (the published self vector); it is then read. */
  | { kind: 'CancelFlows'; msgId: string; plaintext: string; taskId: string; result: CancelFlowsTaskResult | null }
  /** A message type this API does not act on; acknowledged and kept as a receipt. */
  | { kind: 'other'; msgId: string; plaintext: string; msgType: string };

export type CallbackVerdict = { ok: true; value: TencentCallback } | { ok: false; status: 400 | 401; message: string };

export interface TencentCallbackSecrets {
  /** TENCENT_ESS_CALLBACK_KEY: when set, only encrypted bodies are accepted. */
  callbackKey?: string;
  /** TENCENT_ESS_CALLBACK_TOKEN: when set, Content-Signature must match. */
  callbackToken?: string;
}

const FLOW_ID = /^[A-Za-z0-9_\-.]{1,64}$/;
const refuse = (status: 400 | 401, message: string): CallbackVerdict => ({ ok: false, status, message });

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Reads a callback from its raw bytes: the probe first (it carries nothing to forge), then Content-Signature over the
 * exact bytes received, then decryption, then the message's fields. Pure: the HTTP route only relays the verdict.
 */
export function readTencentCallback(raw: Buffer, contentSignature: string | undefined, secrets: TencentCallbackSecrets): CallbackVerdict {
  const text = raw.toString('utf8');
  const outer = parseJson(text);
  if (outer.ok && isRecord(outer.value) && Object.keys(outer.value).length === 0) return { ok: true, value: { kind: 'probe' } };

  if (secrets.callbackToken !== undefined && !verifyContentSignature(raw, secrets.callbackToken, contentSignature)) {
    return refuse(
      401,
      contentSignature === undefined
        ? 'Content-Signature: header missing; callbacks must be signed with TENCENT_ESS_CALLBACK_TOKEN'
        : 'Content-Signature: does not match sha256=HMAC-SHA256(TENCENT_ESS_CALLBACK_TOKEN, body)',
    );
  }
  if (!outer.ok) return refuse(400, '(body): not JSON');
  if (!isRecord(outer.value)) return refuse(400, '(body): must be a JSON object');

  let plaintext: string;
  const encrypt = outer.value.encrypt;
  if (secrets.callbackKey !== undefined) {
    if (typeof encrypt !== 'string') return refuse(400, 'encrypt: expected {"encrypt": "<base64>"}; TENCENT_ESS_CALLBACK_KEY is set, so plain messages are refused');
    try {
      plaintext = decryptCallback(encrypt, secrets.callbackKey);
    } catch (error) {
      if (error instanceof CallbackCryptoError) return refuse(400, `encrypt: ${error.message}`);
      throw error;
    }
  } else {
    if (encrypt !== undefined) return refuse(400, 'encrypt: the body is encrypted but TENCENT_ESS_CALLBACK_KEY is not set');
    plaintext = text;
  }

  const inner = parseJson(plaintext);
  if (!inner.ok || !isRecord(inner.value)) return refuse(400, 'encrypt: the decrypted message is not a JSON object');
  const message = inner.value;
  if (typeof message.MsgId !== 'string' || message.MsgId === '' || message.MsgId.length > 128) return refuse(400, 'MsgId: must be a string of 1 to 128 characters');
  if (typeof message.MsgType !== 'string' || message.MsgType === '') return refuse(400, 'MsgType: must be a non-empty string');
  const msgId = message.MsgId;
  const data = message.MsgData;

  switch (message.MsgType) {
    case 'FlowStatusChange': {
      if (!isRecord(data)) return refuse(400, 'MsgData: must be an object');
      if (typeof data.FlowId !== 'string' || !FLOW_ID.test(data.FlowId)) return refuse(400, 'MsgData.FlowId: must be a flow id of 1 to 64 letters, digits, "_", "-" or "."');
      const code = typeof data.FlowCallbackStatus === 'string' && /^\d+$/.test(data.FlowCallbackStatus) ? Number(data.FlowCallbackStatus) : data.FlowCallbackStatus;
      const status = typeof code === 'number' ? tencentCallbackStatus(code) : undefined;
      if (!status) return refuse(400, 'MsgData.FlowCallbackStatus: must be one of 1, 2, 3, 4, 5, 6, 8, 16, 21');
      let occurredAt: Date | null = null;
      if (data.OccurTime !== undefined && data.OccurTime !== null) {
        if (typeof data.OccurTime !== 'number' || !Number.isInteger(data.OccurTime) || data.OccurTime < 0) return refuse(400, 'MsgData.OccurTime: must be Unix seconds');
        occurredAt = new Date(data.OccurTime * 1000);
      }
      return { ok: true, value: { kind: 'FlowStatusChange', msgId, plaintext, flowId: data.FlowId, status, occurredAt } };
    }
    case 'CancelFlows': {
      if (!isRecord(data)) return refuse(400, 'MsgData: must be an object');
      if (typeof data.TaskId !== 'string' || data.TaskId === '' || data.TaskId.length > 64) return refuse(400, 'MsgData.TaskId: must be a string of 1 to 64 characters');
      // The MsgData schema is not published; a message with the TaskId alone is a "task finished" notice.
      if (data.TaskStatus === undefined && data.SuccessFlowIds === undefined && data.FailureFlows === undefined) {
        return { ok: true, value: { kind: 'CancelFlows', msgId, plaintext, taskId: data.TaskId, result: null } };
      }
      const checked = checkCancelTaskResult(data, 'MsgData.');
      if (!checked.ok) return refuse(400, checked.message.replace(/^MsgData\.(\w+)/, 'MsgData.$1:'));
      return { ok: true, value: { kind: 'CancelFlows', msgId, plaintext, taskId: data.TaskId, result: checked.value } };
    }
    default:
      return { ok: true, value: { kind: 'other', msgId, plaintext, msgType: message.MsgType } };
  }
}

/**
 * POST /callbacks/tencent-ess. Answers 200 only once what the callback says is committed: a flow event for
 * FlowStatusChange (recorded through the FlowRecorder), the task's update for CancelFlows. The MsgId is the dedupe
 * key, so Tencent's retries change nothing. A storage failure answers 500 so Tencent retries.
 */
export function tencentCallbackHandler(deps: {
  recorder: FlowRecorder;
  cancels: Pick<CancelService, 'applyTaskResult' | 'readProviderTask'>;
  store: Store;
  secrets: TencentCallbackSecrets;
  logger: Logger;
}): RequestHandler {
  return async (req, res) => {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = readTencentCallback(raw, req.get('content-signature'), deps.secrets);
    if (!verdict.ok) {
      deps.logger.warn({ provider: TENCENT, status: verdict.status }, `refused Tencent callback: ${verdict.message}`);
      res.status(verdict.status).json({ code: verdict.status === 401 ? 'UNAUTHENTICATED' : 'BAD_REQUEST', error: verdict.message });
      return;
    }
    const cb = verdict.value;
    try {
      switch (cb.kind) {
        case 'probe':
          break;
        case 'FlowStatusChange': {
          const status = tencentStatus(cb.status);
          const result = await deps.recorder.record({
            ref: { provider: TENCENT, providerFlowId: cb.flowId },
            status,
            providerStatus: cb.status,
            source: 'CALLBACK',
            occurredAt: cb.occurredAt,
            endedAt: isTerminal(status) ? cb.occurredAt : undefined,
            receipt: { dedupeKey: cb.msgId, body: cb.plaintext },
          });
          if (result.duplicate) markDuplicate(res);
          deps.logger.info({ provider: TENCENT, flow: cb.flowId, status: cb.status, duplicate: result.duplicate, event: result.event?.id }, 'Tencent FlowStatusChange stored');
          break;
        }
        case 'CancelFlows': {
          if (cb.result === null) {
            // Only the receipt is stored before answering; the result is read from DescribeCancelFlowsTask after.
            if (await deps.store.receipts.insert({ provider: TENCENT, dedupeKey: cb.msgId, body: cb.plaintext })) {
              void deps.cancels.readProviderTask(TENCENT, cb.taskId);
            } else {
              markDuplicate(res);
            }
            deps.logger.info({ provider: TENCENT, providerTask: cb.taskId }, 'Tencent CancelFlows notice stored; reading the task');
            break;
          }
          // The receipt is stored with the task's update; a result for a batch not (yet) recorded is parked with it.
          const result = await deps.cancels.applyTaskResult(TENCENT, cb.taskId, cb.result, 'CALLBACK', { dedupeKey: cb.msgId, body: cb.plaintext });
          if (result.duplicate) markDuplicate(res);
          deps.logger.info({ provider: TENCENT, providerTask: cb.taskId, known: result.known, duplicate: result.duplicate, events: result.events }, 'Tencent CancelFlows stored');
          break;
        }
        case 'other':
          if (!(await deps.store.receipts.insert({ provider: TENCENT, dedupeKey: cb.msgId, body: cb.plaintext }))) markDuplicate(res);
          deps.logger.info({ provider: TENCENT, msgType: cb.msgType }, 'Tencent callback of a type this API does not act on; acknowledged');
          break;
      }
      res.status(200).json({ code: 0, message: 'ok' });
    } catch (error) {
      deps.logger.error({ err: error, provider: TENCENT }, 'Tencent callback could not be stored; Tencent will retry');
      res.status(500).json({ code: 'NOT_STORED', error: 'not stored, please retry' });
    }
  };
}
