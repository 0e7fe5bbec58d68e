import { randomBytes } from 'crypto';
import express from 'express';
import {
  badRequest,
  conflict,
  notFound,
  type CreateFlowInput,
  type Emulator,
  type EmulatorRequest,
  type FaultReplies,
  type ProviderKit,
  type TransitionInput,
  type TransitionResult,
} from '../kit';
import { ESIGN_CODES, envelope, handleApi, route, type ApiDeps } from './api';
import {
  ESIGN_STATUS_CODES,
  ESIGN_STATUS_NAMES,
  isEsignStatusName,
  isFinished,
  rescissionStatusOf,
  statusName,
  type EsignFlow,
  type EsignSigner,
} from './flows';
import { signEsignCallback, verifyEsignRequest } from './signature';

/**
 * The e签宝 open API v3 emulator (mounted at `/esign`): `initiate-rescission`, `revoke` and `detail` under
 * `/v3/sign-flow/{id}/…`, every request's Content-MD5 and signature checked first; the signed callbacks of
 * docs/providers/esign.md with e签宝's retries; and the admin hooks to create flows and move them (which is how a
 * rescission agreement gets signed).
 */

/** The application of docs/providers/esign.md's self vectors; its secret is public test material. */
export const ESIGN_SAMPLE_APP_ID = '7438000001';
export const ESIGN_SAMPLE_APP_SECRET = 'testAppSecret0123456789';

export interface EsignEmulatorOptions {
  /** Registered applications: appId → AppSecret. Replaces the default, the sample application above. */
  apps?: Record<string, string>;
}

/** Callback actions (docs/providers/esign.md); a drop-callback fault's `match` may name one, or a flow id. */
export const ESIGN_CALLBACK_ACTIONS = {
  SIGN_FLOW_COMPLETE: 'SIGN_FLOW_COMPLETE',
  SIGN_FILE_RESCISSION_INITIATE: 'SIGN_FILE_RESCISSION_INITIATE',
  SIGN_FILE_RESCINDED: 'SIGN_FILE_RESCINDED',
} as const;

/** "up to 16 retries over many hours" (docs/providers/esign.md). */
export const ESIGN_CALLBACK_RETRIES = 16;

/**
 * e签宝 publishes no schedule beyond "16 retries over many hours"; this one (about 30 h in all, growing from 15 s
 * to 6 h) is an assumption in that spirit. Tests override it with the sandbox's `callbackRetryDelaysMs`.
 */
export const ESIGN_CALLBACK_DELAYS_MS = [
  15_000, 15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 1_800_000, 1_800_000, 3_600_000, 10_800_000, 10_800_000,
  10_800_000, 21_600_000, 21_600_000, 21_600_000,
];

/** The view `GET /_admin/esign/flows/{flowId}` and `getFlow` give. */
export interface EsignFlowView extends EsignFlow {
  statusName: string;
}

export interface EsignEmulator extends Emulator {
  readonly name: 'esign';
  createFlow(input?: CreateFlowInput): { flowId: string };
  transition(flowId: string, input: TransitionInput): TransitionResult;
  getFlow(flowId: string): EsignFlowView | undefined;
}

const EXTRA_FLOW_FIELDS = ['rescissionAllowed', 'notifyUrl', 'title'] as const;

/** How the fault kinds answer in e签宝's envelope. A numeric `code` that is an HTTP status is also sent as one. */
const faultReplies: FaultReplies = {
  error: (fault) => {
    const code = fault.code !== undefined && /^-?\d+$/.test(fault.code) ? Number(fault.code) : ESIGN_CODES.SYSTEM_ERROR;
    return { status: code >= 400 && code < 600 ? code : 200, body: envelope(code, fault.message ?? '系统异常') };
  },
  // INFERRED: e签宝 documents no throttling answer; this is HTTP 429 in its envelope.
  rateLimit: () => ({ status: 429, body: envelope(ESIGN_CODES.RATE_LIMITED, '请求过于频繁，请稍后再试: TOO_MANY_REQUESTS') }),
};

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export function createEsignEmulator(kit: ProviderKit, options: EsignEmulatorOptions = {}): EsignEmulator {
  const apps = new Map(Object.entries(options.apps ?? { [ESIGN_SAMPLE_APP_ID]: ESIGN_SAMPLE_APP_SECRET }));
  if (apps.size === 0) throw new Error('e签宝 emulator: at least one application is needed');
  const defaultAppId = [...apps.keys()][0];
  const flows = new Map<string, EsignFlow>();

  /**
   * Posts one callback to `url`, signed as docs/providers/esign.md says: lower-hex HMAC-SHA256(AppSecret, timestamp + the
   * notifyUrl's own query values sorted by key + raw body). The body (and its `timestamp`, the event's time) is
   * the same on every attempt; X-Tsign-Open-TIMESTAMP and the signature are made when each attempt is sent.
   */
  function sendCallback(flow: EsignFlow, action: string, payload: Record<string, unknown>): string {
    const url = flow.notifyUrl ?? kit.callbackUrl();
    const appSecret = apps.get(flow.appId) as string;
    const body = JSON.stringify({ action, timestamp: kit.clock.now(), ...payload });
    const { delivery } = kit.deliver({
      url,
      event: action,
      subject: typeof payload.signFlowId === 'string' ? payload.signFlowId : flow.signFlowId,
      body,
      contentType: 'application/json; charset=utf-8',
      headers: { 'X-Tsign-Open-App-Id': flow.appId, 'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sha256' },
      attemptHeaders: () => {
        const timestamp = String(kit.clock.now());
        return { 'X-Tsign-Open-TIMESTAMP': timestamp, 'X-Tsign-Open-SIGNATURE': signEsignCallback({ appSecret, timestamp, notifyUrl: url, rawBody: body }) };
      },
      // "Any 2xx … is success".
      isAcknowledged: (status) => status >= 200 && status < 300,
      retries: ESIGN_CALLBACK_RETRIES,
      delaysMs: (retry) => ESIGN_CALLBACK_DELAYS_MS[Math.min(retry, ESIGN_CALLBACK_DELAYS_MS.length) - 1],
    });
    return delivery.id;
  }

  function signFlowComplete(flow: EsignFlow): string {
    return sendCallback(flow, ESIGN_CALLBACK_ACTIONS.SIGN_FLOW_COMPLETE, {
      signFlowId: flow.signFlowId,
      signFlowTitle: flow.title,
      // A string here, unlike the detail query's integer.
      signFlowStatus: String(flow.status),
      statusDescription: { 2: '完成', 3: '撤销', 5: '过期', 7: '拒签' }[flow.status as 2 | 3 | 5 | 7] ?? '',
      signFlowCreateTime: flow.createTime,
      signFlowStartTime: flow.startTime,
      signFlowFinishTime: flow.finishTime,
    });
  }

  /** The agreement of a rescission was signed, or ended unsigned: update the original flow and say so. */
  function settleRescission(agreement: EsignFlow, signed: boolean): string | undefined {
    const link = agreement.rescissionOf;
    const original = link && flows.get(link.originalFlowId);
    if (!link || !original) return undefined;
    original.pendingFileIds = original.pendingFileIds.filter((id) => !link.fileIds.includes(id));
    if (signed) original.rescindedFileIds.push(...link.fileIds.filter((id) => !original.rescindedFileIds.includes(id)));
    original.rescissionStatus = rescissionStatusOf(original);
    if (!signed) return undefined;
    return sendCallback(agreement, ESIGN_CALLBACK_ACTIONS.SIGN_FILE_RESCINDED, {
      signFlowId: original.signFlowId,
      rescissionSignFlowId: agreement.signFlowId,
      rescissionFileIds: [...link.fileIds],
    });
  }

  function deps(appId: string): ApiDeps {
    return {
      flows,
      appId,
      now: kit.clock.now(),
      newFlowId: () => hex(16),
      newFileId: () => hex(16),
      rescissionInitiated: (original, agreement) => {
        const link = agreement.rescissionOf!;
        sendCallback(agreement, ESIGN_CALLBACK_ACTIONS.SIGN_FILE_RESCISSION_INITIATE, {
          signFlowId: original.signFlowId,
          rescissionSignFlowId: agreement.signFlowId,
          rescissionFileIds: [...link.fileIds],
          rescindReason: link.rescindReason,
          ...(link.rescindReasonNotes !== undefined ? { rescindReasonNotes: link.rescindReasonNotes } : {}),
        });
      },
      revoked: (flow) => {
        signFlowComplete(flow);
        settleRescission(flow, false);
      },
    };
  }

  function handle(request: EmulatorRequest) {
    const pathOnly = request.url.split('?')[0];
    const verdict = verifyEsignRequest({
      method: request.method,
      pathAndQuery: request.url,
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])),
      body: request.rawBody,
      now: kit.clock.now(),
      lookupSecret: (appId) => apps.get(appId),
    });
    if (!verdict.ok) return { status: verdict.httpStatus, body: envelope(verdict.code, verdict.message) };
    const malformed = request.rawBody.length > 0 && request.json === undefined;
    const reply = handleApi({ method: request.method, path: pathOnly, json: request.json, malformed }, deps(verdict.appId));
    return { status: reply.status, body: reply.body };
  }

  const router = express.Router();
  router.all(
    /^\/v3\/.*/,
    kit.handler({
      operation: (request) => route(request.method, request.path)?.operation,
      faults: faultReplies,
      handle,
    }),
  );

  function view(flow: EsignFlow): EsignFlowView {
    return structuredClone({ ...flow, statusName: statusName(flow.status) });
  }

  function signersFor(count: number): EsignSigner[] {
    // Alternating people and organisations, so both kinds of rescission initiator have someone to be.
    return Array.from({ length: count }, (_, i): EsignSigner =>
      i % 2 === 0
        ? { kind: 'person', psnId: hex(16), psnName: `签署人${i + 1}` }
        : { kind: 'organization', orgId: hex(16), orgName: `沙箱企业${i + 1}`, transactorPsnId: hex(16) },
    );
  }

  function extras(extra: Record<string, unknown> | undefined): { rescissionAllowed: boolean; notifyUrl?: string; title: string } {
    const allowed = extra?.rescissionAllowed;
    if (allowed !== undefined && typeof allowed !== 'boolean') throw badRequest('rescissionAllowed must be true or false', 'rescissionAllowed');
    const notifyUrl = extra?.notifyUrl;
    if (notifyUrl !== undefined) {
      let ok = false;
      try {
        ok = typeof notifyUrl === 'string' && ['http:', 'https:'].includes(new URL(notifyUrl).protocol);
      } catch {
        ok = false;
      }
      if (!ok) throw badRequest('notifyUrl must be an http(s) URL', 'notifyUrl');
    }
    const title = extra?.title;
    if (title !== undefined && (typeof title !== 'string' || title.trim() === '' || [...title].length > 100)) {
      throw badRequest('title must be a string of 1 to 100 characters', 'title');
    }
    return { rescissionAllowed: allowed ?? true, ...(notifyUrl !== undefined ? { notifyUrl: notifyUrl as string } : {}), title: (title as string | undefined) ?? '沙箱签署流程' };
  }

  return {
    name: 'esign',
    router,
    createFlowFields: EXTRA_FLOW_FIELDS,

    reset() {
      flows.clear();
    },

    createFlow(input: CreateFlowInput = {}) {
      const status = input.status ?? 'SIGNING';
      if (!isEsignStatusName(status)) {
        throw badRequest(`status ${status} is not an e签宝 flow state; use one of ${ESIGN_STATUS_NAMES.join(', ')}`, 'status');
      }
      const flowId = input.flowId ?? hex(16);
      if (flows.has(flowId)) throw conflict(`esign flow "${flowId}" already exists`, 'flowId');
      const code = ESIGN_STATUS_CODES[status];
      const now = kit.clock.now();
      const fileIds = input.fileIds ?? [hex(16)];
      if (new Set(fileIds).size !== fileIds.length) throw badRequest('fileIds must not repeat an id', 'fileIds');
      flows.set(flowId, {
        signFlowId: flowId,
        appId: defaultAppId,
        ...extras(input.extra),
        status: code,
        createTime: now,
        startTime: now,
        finishTime: isFinished(code) ? now : null,
        initiator: { psnId: hex(16), psnName: '发起人' },
        signers: signersFor(input.signers ?? 1),
        fileIds: [...fileIds],
        rescissionStatus: 0,
        rescissionSignFlowIds: [],
        rescindedFileIds: [],
        pendingFileIds: [],
      });
      return { flowId };
    },

    transition(flowId: string, input: TransitionInput): TransitionResult {
      // Admin moves are unconditional (a test may need a finished flow to report again); only the API obeys rules.
      if (!isEsignStatusName(input.status)) {
        throw badRequest(`status ${input.status} is not an e签宝 flow state; use one of ${ESIGN_STATUS_NAMES.join(', ')}`, 'status');
      }
      const flow = flows.get(flowId);
      if (!flow) throw notFound(`no esign flow "${flowId}"`);
      const code = ESIGN_STATUS_CODES[input.status];
      flow.status = code;
      flow.finishTime = isFinished(code) ? kit.clock.now() : null;
      const callbackId = isFinished(code) ? signFlowComplete(flow) : undefined;
      // Signing a rescission agreement rescinds its files; revoking, rejecting or letting it expire ends it unsigned.
      const rescissionCallbackId = flow.rescissionOf && isFinished(code) ? settleRescission(flow, code === 2) : undefined;
      return {
        flowId,
        status: input.status,
        providerStatus: String(code),
        callbackQueued: callbackId !== undefined,
        ...(callbackId ? { callbackId } : {}),
        ...(rescissionCallbackId ? { rescissionCallbackId } : {}),
      };
    },

    describeFlow(flowId: string) {
      const flow = flows.get(flowId);
      return flow ? view(flow) : undefined;
    },

    getFlow(flowId: string) {
      const flow = flows.get(flowId);
      return flow ? view(flow) : undefined;
    },

    listFlows() {
      return [...flows.values()].map(view);
    },

    exportState() {
      return { flows: [...flows.values()] };
    },

    importState(state: unknown) {
      flows.clear();
      const list = typeof state === 'object' && state !== null ? (state as { flows?: unknown }).flows : undefined;
      if (!Array.isArray(list)) return;
      for (const flow of list as EsignFlow[]) if (typeof flow?.signFlowId === 'string') flows.set(flow.signFlowId, flow);
    },
  };
}
