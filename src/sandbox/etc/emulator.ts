import { randomBytes, type KeyObject } from 'crypto';
import express from 'express';
import {
  badRequest,
  conflict,
  formatChinaTime,
  notFound,
  type CreateFlowInput,
  type Emulator,
  type FaultReplies,
  type ProviderKit,
  type TransitionInput,
  type TransitionResult,
} from '../kit';
import {
  ETC_STATUS_CODES,
  ETC_STATUS_NAMES,
  describeStatus,
  isEtcStatusName,
  isFinished,
  queryData,
  statusName,
  type EtcFlow,
} from './flows';
import { BUSINESS_CODES, GATEWAY_CODES, NonceBook, envelope, handleGateway, type EtcOperation } from './gateway';
import { ETC_SAMPLE_APP_ID, ETC_SAMPLE_PUBLIC_KEY, parsePublicKey } from './signature';

/**
 * The ETC gateway emulator: `POST /api/gateway` (mounted at `/etc`), the sign-flow callback of seed 001, and the
 * admin hooks to create and move flows.
 */

export interface EtcEmulatorOptions {
  /**
   * Registered applications: appId → public key (SPKI, DER, Base64). Replaces the default, which is the published
   * sample application `OIG0AF4DMOK2VC2N` and its key.
   */
  apps?: Record<string, string>;
  /** Base of the generated `sign_file_url`s. Default `https://etc-sandbox.invalid/files`. */
  fileUrlBase?: string;
}

/** The view `GET /_admin/etc/flows/{flowId}` and `getFlow` give. */
export interface EtcFlowView extends EtcFlow {
  statusName: string;
}

export interface EtcEmulator extends Emulator {
  readonly name: 'etc';
  createFlow(input?: CreateFlowInput): { flowId: string };
  transition(flowId: string, input: TransitionInput): TransitionResult;
  getFlow(flowId: string): EtcFlowView | undefined;
}

/** Name a drop-callback fault's `match` may use for ETC's sign-flow callback (or the flow id). */
export const ETC_CALLBACK_EVENT = 'esign.signflows.callback';

/** "非000会重试（3次）" (seed 001). */
const CALLBACK_RETRIES = 3;

/**
 * ETC publishes no retry interval; these (15 s, 1 min, 5 min) are an assumption in the range such platforms use.
 * Sandboxes for tests override them with `callbackRetryDelaysMs`.
 */
const CALLBACK_DELAYS_MS = [15_000, 60_000, 300_000];

/**
 * ETC documents no rate-limit code. A throttled request is answered like an overloaded gateway: the system error
 * code "500" with a "busy" message.
 */
const faultReplies: FaultReplies = {
  error: (fault) => ({ body: envelope(fault.code ?? GATEWAY_CODES.SYSTEM_ERROR, fault.message ?? '系统错误') }),
  rateLimit: () => ({ body: envelope(GATEWAY_CODES.SYSTEM_ERROR, '系统繁忙，请稍后再试') }),
};

const EXTRA_FLOW_FIELDS = ['flowDesc', 'businessScene'] as const;

export function createEtcEmulator(kit: ProviderKit, options: EtcEmulatorOptions = {}): EtcEmulator {
  const apps = new Map<string, KeyObject>();
  for (const [appId, key] of Object.entries(options.apps ?? { [ETC_SAMPLE_APP_ID]: ETC_SAMPLE_PUBLIC_KEY })) {
    try {
      apps.set(appId, parsePublicKey(key));
    } catch (error) {
      throw new Error(`ETC emulator: the public key of app ${appId} is not an SPKI DER Base64 key (${String(error)})`);
    }
  }
  const fileUrlBase = (options.fileUrlBase ?? 'https://etc-sandbox.invalid/files').replace(/\/+$/, '');
  const flows = new Map<string, EtcFlow>();
  const nonces = new NonceBook();

  function sendCallback(flow: EtcFlow): { callbackId: string } {
    // Serialised once: every retry sends these exact bytes.
    const body = JSON.stringify({
      sign_end_time: formatChinaTime(flow.endTime ?? kit.clock.now()),
      sign_flow_status: String(flow.status),
      sign_flow_id: flow.flowId,
      sign_file_url: flow.fileUrl,
    });
    const { delivery } = kit.deliver({
      url: kit.callbackUrl(),
      event: ETC_CALLBACK_EVENT,
      subject: flow.flowId,
      body,
      contentType: 'application/json; charset=utf-8',
      isAcknowledged: (_status, text) => {
        try {
          const answer: unknown = JSON.parse(text);
          return typeof answer === 'object' && answer !== null && (answer as Record<string, unknown>).response_code === '000';
        } catch {
          return false;
        }
      },
      retries: CALLBACK_RETRIES,
      delaysMs: (retry) => CALLBACK_DELAYS_MS[Math.min(retry, CALLBACK_DELAYS_MS.length) - 1],
    });
    return { callbackId: delivery.id };
  }

  const notFoundOutcome = (flowId: string) =>
    ({ ok: false, code: BUSINESS_CODES.FLOW_NOT_FOUND, message: `流程不存在: ${flowId}` }) as const;

  const operations: Record<string, EtcOperation> = {
    // Seed 000.
    'esign.signflows.revoke': {
      params: [
        { name: 'flowId', required: true, maxLength: 64 },
        { name: 'etc_member_no', required: true, maxLength: 64 },
        { name: 'revokeReason', required: false, maxLength: 64 },
      ],
      run: ({ flowId, etc_member_no, revokeReason }) => {
        const flow = flows.get(flowId as string);
        if (!flow) return notFoundOutcome(flowId as string);
        if (flow.status !== ETC_STATUS_CODES.SIGNING) {
          return {
            ok: false,
            code: BUSINESS_CODES.FLOW_STATE_FORBIDS_REVOKE,
            message: `流程状态不允许撤销: 当前状态 ${describeStatus(flow.status)}`,
          };
        }
        // The docs tie no rule to etc_member_no beyond its presence; it is recorded, not checked against the flow.
        flow.status = ETC_STATUS_CODES.REVOKED;
        flow.endTime = kit.clock.now();
        flow.revokeReason = revokeReason ?? '撤销';
        flow.revokedBy = etc_member_no;
        sendCallback(flow);
        return { ok: true, data: { revokeResult: true } };
      },
    },
    'esign.signflows.query': {
      params: [{ name: 'flowId', required: true, maxLength: 64 }],
      run: ({ flowId }) => {
        const flow = flows.get(flowId as string);
        return flow ? { ok: true, data: queryData(flow) } : notFoundOutcome(flowId as string);
      },
    },
  };

  const router = express.Router();
  router.post(
    '/api/gateway',
    kit.handler({
      operation: (request) => {
        const body = request.json;
        if (typeof body !== 'object' || body === null) return undefined;
        const apiCode = (body as Record<string, unknown>).apiCode;
        return typeof apiCode === 'string' ? apiCode : undefined;
      },
      faults: faultReplies,
      handle: (request) => ({
        body:
          request.json === undefined
            ? envelope(GATEWAY_CODES.MISSING_PARAMETER, '请求体必须是 JSON 对象')
            : handleGateway(request.json, {
                now: kit.clock.now(),
                publicKeyFor: (appId) => apps.get(appId),
                nonces,
                operations,
              }),
      }),
    }),
  );

  function view(flow: EtcFlow): EtcFlowView {
    return { ...flow, signers: flow.signers.map((s) => ({ ...s })), fileIds: [...flow.fileIds], statusName: statusName(flow.status) };
  }

  function textField(extra: Record<string, unknown> | undefined, field: string, fallback: string): string {
    const value = extra?.[field];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || [...value].length > 128) throw badRequest(`${field} must be a string of at most 128 characters`, field);
    return value;
  }

  return {
    name: 'etc',
    router,
    createFlowFields: EXTRA_FLOW_FIELDS,

    reset() {
      flows.clear();
      nonces.clear();
    },

    createFlow(input: CreateFlowInput = {}) {
      const status = input.status ?? 'SIGNING';
      if (!isEtcStatusName(status)) {
        throw badRequest(`status ${status} is not an ETC flow state; use one of ${ETC_STATUS_NAMES.join(', ')}`, 'status');
      }
      const flowId = input.flowId ?? randomBytes(16).toString('hex');
      if (flows.has(flowId)) throw conflict(`etc flow "${flowId}" already exists`, 'flowId');
      const code = ETC_STATUS_CODES[status];
      const now = kit.clock.now();
      const fileIds = input.fileIds ?? [randomBytes(16).toString('hex')];
      flows.set(flowId, {
        flowId,
        status: code,
        startTime: now,
        endTime: isFinished(code) ? now : null,
        flowDesc: textField(input.extra, 'flowDesc', '沙箱签署流程'),
        businessScene: textField(input.extra, 'businessScene', '沙箱合同'),
        signers: Array.from({ length: input.signers ?? 1 }, (_, i) => ({
          accountId: randomBytes(16).toString('hex'),
          name: `签署人${i + 1}`,
        })),
        fileIds,
        fileUrl: `${fileUrlBase}/${flowId}.pdf`,
      });
      return { flowId };
    },

    transition(flowId: string, input: TransitionInput): TransitionResult {
      // Admin moves are unconditional (a test may need a finished flow to report again); only the API obeys state rules.
      if (!isEtcStatusName(input.status)) {
        throw badRequest(`status ${input.status} is not an ETC flow state; use one of ${ETC_STATUS_NAMES.join(', ')}`, 'status');
      }
      const flow = flows.get(flowId);
      if (!flow) throw notFound(`no etc flow "${flowId}"`);
      const code = ETC_STATUS_CODES[input.status];
      flow.status = code;
      flow.endTime = isFinished(code) ? kit.clock.now() : null;
      // The platform calls back only on entering a finished state (seed 001 lists 2, 3, 5, 7).
      const callback = isFinished(code) ? sendCallback(flow) : undefined;
      return {
        flowId,
        status: input.status,
        providerStatus: String(code),
        flowStatus: code,
        callbackQueued: callback !== undefined,
        ...(callback ? { callbackId: callback.callbackId } : {}),
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
      for (const flow of arrayField<EtcFlow>(state, 'flows')) if (typeof flow?.flowId === 'string') flows.set(flow.flowId, flow);
    },
  };
}

/** `state[name]` when it is an array (a state file from this version), else nothing. */
function arrayField<T>(state: unknown, name: string): T[] {
  const value = typeof state === 'object' && state !== null ? (state as Record<string, unknown>)[name] : undefined;
  return Array.isArray(value) ? (value as T[]) : [];
}
