import { randomUUID } from 'crypto';
import express from 'express';
import {
  TimerSet,
  badRequest,
  conflict,
  notFound,
  adminRoute,
  type CreateFlowInput,
  type EmulatorReply,
  type EmulatorRequest,
  type Emulator,
  type FaultReplies,
  type ProviderKit,
  type TransitionInput,
  type TransitionResult,
} from '../kit';
import {
  CALLBACK_STATUS_CODES,
  ESS_FLOW_STATUSES,
  STATUS_FOR_ADMIN,
  essId,
  flowInfo,
  isCancellable,
  isEssFlowStatus,
  label,
  type EssFlow,
} from './flows';
import { contentSignature, encryptCallback, verifyTc3 } from './tc3';

/**
 * The Tencent Electronic Signature (essbasic 2021-05-26, platform edition) emulator: `POST /` (mounted at
 * `/tencent`) with the action in X-TC-Action, TC3-HMAC-SHA256 checked like Tencent Cloud's gateway, a rate limit per
 * action, the four actions the API uses with their documented validation and flow rules, batch-cancel tasks that
 * finish a moment after the call, and the encrypted, signed callbacks. docs/providers/tencent.md and seed 002.
 */

export const ESS_VERSION = '2021-05-26';

/**
 * The account the sandbox API is configured with. Tencent publishes no test account, so these are invented; the API's
 * config carries its own copy (two sides, written apart).
 */
export const ESS_SANDBOX_ACCOUNT = {
  secretId: 'AKIDsandboxEssbasic0000000000000000',
  secretKey: 'sandboxSecretKeyEssbasic000000000',
  appId: 'yDRSRUUgygj6qnwfUuO4zjEwc193c2hH',
  callbackKey: '0123456789abcdef0123456789abcdef',
  callbackToken: 'sandbox-callback-token',
} as const;

export interface TencentEmulatorOptions {
  /** SecretId → SecretKey. Default: the sandbox account. */
  secrets?: Record<string, string>;
  /** Agent.AppId values that exist. Default: the sandbox account's. */
  appIds?: readonly string[];
  /** 32 bytes; callbacks are sent as `{"encrypt":…}`. `null` sends plain JSON. Default: the sandbox account's. */
  callbackKey?: string | null;
  /** Callbacks carry Content-Signature. `null` sends none. Default: the sandbox account's. */
  callbackToken?: string | null;
  /** Requests per second per action before RequestLimitExceeded (seed 002: 20). */
  ratePerSecond?: number;
  /** How long a batch-cancel task stays PROCESSING before it ends ("a moment"). Default 10 ms. */
  cancelTaskDelayMs?: number;
}

/** What `POST /_admin/tencent/settings` may change at run time (tests use it). */
export interface TencentEmulatorSettings {
  cancelTaskDelayMs: number;
  /** How batch-cancel tasks end: END (flows cancelled), TIMEOUT (nothing cancelled), or HOLD (stay PROCESSING). */
  cancelTaskOutcome: 'END' | 'TIMEOUT' | 'HOLD';
  /** Whether cancelling a flow also sends its FlowStatusChange callback (the real platform does). */
  flowCallbacks: boolean;
}

export interface TencentActionStats {
  calls: number;
  /** Answered RequestLimitExceeded by the emulator's own rate limit (not by a fault). */
  rateLimited: number;
}

export interface TencentEmulator extends Emulator {
  readonly name: 'tencent';
  createFlow(input?: CreateFlowInput): { flowId: string };
  transition(flowId: string, input: TransitionInput): TransitionResult;
  getFlow(flowId: string): EssFlow | undefined;
  stats(): Record<string, TencentActionStats>;
  settings(change?: Partial<TencentEmulatorSettings>): TencentEmulatorSettings;
}

/** MsgType values a drop-callback fault's `match` may name (or the flow id / task id). */
export const ESS_CALLBACK_EVENTS = { FLOW_STATUS_CHANGE: 'FlowStatusChange', CANCEL_FLOWS: 'CancelFlows' } as const;

/**
 * Tencent does not publish its callback retry schedule; these (5 retries over about 8 minutes) are an assumption.
 * Test sandboxes override them with `callbackRetryDelaysMs`.
 */
const CALLBACK_DELAYS_MS = [5_000, 15_000, 30_000, 120_000, 300_000];

const MAX_FLOW_IDS = 100;
const MAX_CANCEL_MESSAGE = 200;
const CANCEL_MESSAGE = /^[\p{Script=Han}A-Za-z0-9_]+$/u;
const DEFAULT_CANCEL_MESSAGE = '自动撤销(通过接口实现)';

type Json = Record<string, unknown>;

interface CancelTask {
  taskId: string;
  status: 'PROCESSING' | 'END' | 'TIMEOUT';
  /** Flows the call accepted, still to be cancelled when the task runs. */
  accepted: string[];
  message: string;
  successFlowIds: string[];
  failureFlows: Array<{ FlowId: string; Reason: string; FlowName: string }>;
}

/** A refusal in Tencent's envelope: HTTP 200, `Response.Error`. */
class EssError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function answer(fields: Json): EmulatorReply {
  return { body: { Response: { ...fields, RequestId: randomUUID() } } };
}

function refusal(code: string, message: string): EmulatorReply {
  return answer({ Error: { Code: code, Message: message } });
}

const missing = (name: string) => new EssError('MissingParameter', `The request is missing a required parameter \`${name}\`.`);

/** Sliding token buckets, one per action: `ratePerSecond` tokens, refilled continuously. */
class ActionThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number,
  ) {}

  take(action: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(action) ?? { tokens: this.ratePerSecond, at: now };
    bucket.tokens = Math.min(this.ratePerSecond, bucket.tokens + ((now - bucket.at) * this.ratePerSecond) / 1000);
    bucket.at = now;
    this.buckets.set(action, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  clear(): void {
    this.buckets.clear();
  }
}

function headerMap(request: EmulatorRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const name of Object.keys(request.headers)) headers[name] = request.header(name);
  return headers;
}

const faultReplies: FaultReplies = {
  error: (fault) => refusal(fault.code ?? 'InternalError', fault.message ?? '内部错误。'),
  rateLimit: () => refusal('RequestLimitExceeded', '请求的次数超过了频率限制。'),
};

export function createTencentEmulator(kit: ProviderKit, options: TencentEmulatorOptions = {}): TencentEmulator {
  const secrets = new Map(Object.entries(options.secrets ?? { [ESS_SANDBOX_ACCOUNT.secretId]: ESS_SANDBOX_ACCOUNT.secretKey }));
  const appIds = new Set(options.appIds ?? [ESS_SANDBOX_ACCOUNT.appId]);
  const callbackKey = options.callbackKey === undefined ? ESS_SANDBOX_ACCOUNT.callbackKey : options.callbackKey;
  const callbackToken = options.callbackToken === undefined ? ESS_SANDBOX_ACCOUNT.callbackToken : options.callbackToken;
  if (callbackKey !== null && Buffer.byteLength(callbackKey, 'utf8') !== 32) {
    throw new Error('Tencent emulator: the callback key must be 32 bytes');
  }
  const defaults: TencentEmulatorSettings = { cancelTaskDelayMs: options.cancelTaskDelayMs ?? 10, cancelTaskOutcome: 'END', flowCallbacks: true };
  let settings: TencentEmulatorSettings = { ...defaults };
  const throttle = new ActionThrottle(options.ratePerSecond ?? 20, () => kit.clock.now());
  const flows = new Map<string, EssFlow>();
  const tasks = new Map<string, CancelTask>();
  const counters = new Map<string, TencentActionStats>();
  const timers = new TimerSet();

  function sendCallback(msgType: string, subject: string, msgData: Json): void {
    const plaintext = JSON.stringify({ MsgId: essId('yD'), MsgType: msgType, MsgVersion: 'ThirdPartyApp', MsgData: msgData });
    // Serialised once: every retry sends these exact bytes.
    const body = callbackKey === null ? plaintext : JSON.stringify({ encrypt: encryptCallback(plaintext, callbackKey) });
    kit.deliver({
      url: kit.callbackUrl(),
      event: msgType,
      subject,
      body,
      contentType: 'application/json',
      headers: callbackToken === null ? {} : { 'Content-Signature': contentSignature(body, callbackToken) },
      isAcknowledged: (status) => status === 200,
      retries: CALLBACK_DELAYS_MS.length,
      delaysMs: (retry) => CALLBACK_DELAYS_MS[Math.min(retry, CALLBACK_DELAYS_MS.length) - 1],
    });
  }

  function flowStatusChange(flow: EssFlow): void {
    const now = kit.clock.now();
    sendCallback(ESS_CALLBACK_EVENTS.FLOW_STATUS_CHANGE, flow.flowId, {
      FlowId: flow.flowId,
      FlowName: flow.flowName,
      FlowType: flow.flowType,
      FlowCallbackStatus: CALLBACK_STATUS_CODES[flow.status],
      FlowMessage: flow.message,
      CreateOn: Math.floor(flow.createdOn / 1000),
      Deadline: Math.floor(flow.deadline / 1000),
      OccurTime: Math.floor(now / 1000),
      CustomerData: '',
    });
  }

  function taskResult(task: CancelTask): Json {
    return { TaskStatus: task.status, SuccessFlowIds: [...task.successFlowIds], FailureFlows: task.failureFlows.map((f) => ({ ...f })) };
  }

  function finishTask(task: CancelTask): void {
    if (settings.cancelTaskOutcome === 'HOLD') return;
    const cancelled: EssFlow[] = [];
    for (const flowId of task.accepted) {
      const flow = flows.get(flowId);
      if (!flow) continue;
      if (flow.cancellingTask === task.taskId) delete flow.cancellingTask;
      if (settings.cancelTaskOutcome === 'TIMEOUT') continue;
      if (isCancellable(flow.status)) {
        flow.status = 'CANCEL';
        flow.message = task.message;
        task.successFlowIds.push(flowId);
        cancelled.push(flow);
      } else {
        // Moved on between the call and the task (signed, rejected, expired meanwhile).
        task.failureFlows.push({ FlowId: flowId, Reason: `合同流程Id:${flowId},无法撤回,错误信息:合同当前状态不支持撤销`, FlowName: flow.flowName });
      }
    }
    task.status = settings.cancelTaskOutcome === 'TIMEOUT' ? 'TIMEOUT' : 'END';
    sendCallback(ESS_CALLBACK_EVENTS.CANCEL_FLOWS, task.taskId, { TaskId: task.taskId, ...taskResult(task) });
    if (settings.flowCallbacks) for (const flow of cancelled) flowStatusChange(flow);
  }

  function scheduleTask(task: CancelTask, delayMs: number): void {
    void timers.sleep(delayMs).then((waited) => {
      if (!waited || tasks.get(task.taskId) !== task) return;
      finishTask(task);
      kit.changed();
    });
  }

  function requireString(body: Json, name: string): string {
    const value = body[name];
    if (value === undefined || value === null || value === '') throw missing(name);
    if (typeof value !== 'string') throw new EssError('InvalidParameter', `${name} 必须是字符串。`);
    return value;
  }

  /** Seed 002: Agent.AppId, Agent.ProxyOrganizationOpenId and Agent.ProxyOperator.OpenId are all required. */
  function checkAgent(body: Json): void {
    const agent = body.Agent;
    if (agent === undefined || agent === null) throw missing('Agent');
    if (!isObject(agent)) throw new EssError('InvalidParameter', 'Agent 必须是对象。');
    const appId = agent.AppId;
    if (typeof appId !== 'string' || appId === '') throw missing('Agent.AppId');
    if (typeof agent.ProxyOrganizationOpenId !== 'string' || agent.ProxyOrganizationOpenId === '') throw missing('Agent.ProxyOrganizationOpenId');
    const operator = agent.ProxyOperator;
    if (!isObject(operator) || typeof operator.OpenId !== 'string' || operator.OpenId === '') throw missing('Agent.ProxyOperator.OpenId');
    if (!appIds.has(appId)) throw new EssError('ResourceNotFound.Application', `应用号不存在: ${appId}`);
  }

  function flowIdsOf(body: Json, code: string): string[] {
    const ids = body.FlowIds;
    if (ids === undefined || ids === null || (Array.isArray(ids) && ids.length === 0)) throw missing('FlowIds');
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
      throw new EssError(code, 'FlowIds 必须是非空字符串数组。');
    }
    if (ids.length > MAX_FLOW_IDS) throw new EssError(code, `FlowIds 最多${MAX_FLOW_IDS}个，超过${MAX_FLOW_IDS}不处理（收到${ids.length}个）。`);
    return ids as string[];
  }

  /** Seed 002: CancelMessage ≤200 characters of Chinese, letters, digits and underscore; CancelMessageFormat 0–3. */
  function cancelMessageOf(body: Json, code: string): string {
    const message = body.CancelMessage;
    const format = body.CancelMessageFormat;
    if (format !== undefined && format !== null && !(typeof format === 'number' && Number.isInteger(format) && format >= 0 && format <= 3)) {
      throw new EssError(code, 'CancelMessageFormat 只能是 0、1、2、3。');
    }
    if (message === undefined || message === null || message === '') return DEFAULT_CANCEL_MESSAGE;
    if (typeof message !== 'string') throw new EssError(code, 'CancelMessage 必须是字符串。');
    if ([...message].length > MAX_CANCEL_MESSAGE) throw new EssError(code, `CancelMessage 长度不能超过${MAX_CANCEL_MESSAGE}。`);
    if (!CANCEL_MESSAGE.test(message)) throw new EssError(code, 'CancelMessage 只能由中文、字母、数字和下划线组成。');
    return message;
  }

  const actions: Record<string, (body: Json) => Json> = {
    ChannelBatchCancelFlows(body) {
      const ids = flowIdsOf(body, 'InvalidParameter.ParamError');
      const message = cancelMessageOf(body, 'InvalidParameter.ParamError');
      const task: CancelTask = { taskId: essId('yD'), status: 'PROCESSING', accepted: [], message, successFlowIds: [], failureFlows: [] };
      const seen = new Set<string>();
      const failMessages = ids.map((flowId) => {
        const flow = flows.get(flowId);
        let reason: string | undefined;
        if (!flow) reason = '合同流程不存在';
        else if (seen.has(flowId)) reason = '重复的合同流程Id';
        else if (flow.cancellingTask) reason = '合同正在撤销中';
        else if (!isCancellable(flow.status)) reason = '合同当前状态不支持撤销';
        seen.add(flowId);
        if (reason) {
          const text = `合同流程Id:${flowId},无法撤回,错误信息:${reason}`;
          task.failureFlows.push({ FlowId: flowId, Reason: text, FlowName: flow?.flowName ?? '' });
          return text;
        }
        (flow as EssFlow).cancellingTask = task.taskId;
        task.accepted.push(flowId);
        return '';
      });
      tasks.set(task.taskId, task);
      scheduleTask(task, settings.cancelTaskDelayMs);
      // Seed 002, example 2: the array is empty when every flow was accepted.
      return { FailMessages: failMessages.every((m) => m === '') ? [] : failMessages, TaskId: task.taskId };
    },

    ChannelCancelFlow(body) {
      const flowId = requireString(body, 'FlowId');
      const message = cancelMessageOf(body, 'InvalidParameter');
      const flow = flows.get(flowId);
      if (!flow) throw new EssError('ResourceNotFound.Flow', `合同流程不存在: ${flowId}`);
      if (flow.cancellingTask) throw new EssError('InvalidParameter.Status', `合同流程Id:${flowId},合同正在撤销中`);
      if (!isCancellable(flow.status)) {
        throw new EssError('OperationDenied.FlowHasTerminated', `流程已终止: 合同流程Id:${flowId},当前状态${flow.status}(${label(flow.status)}),无法撤回`);
      }
      flow.status = 'CANCEL';
      flow.message = message;
      flowStatusChange(flow);
      return {};
    },

    DescribeCancelFlowsTask(body) {
      const taskId = requireString(body, 'TaskId');
      const task = tasks.get(taskId);
      if (!task) throw new EssError('ResourceNotFound', `批量撤销任务不存在: ${taskId}`);
      return taskResult(task);
    },

    DescribeFlowDetailInfo(body) {
      const ids = flowIdsOf(body, 'InvalidParameter');
      // Ids this application does not know are left out of FlowInfo rather than failing the whole query.
      const infos = [...new Set(ids)].flatMap((id) => {
        const flow = flows.get(id);
        return flow ? [flowInfo(flow)] : [];
      });
      return { ApplicationId: (body.Agent as Json).AppId, ProxyOrganizationOpenId: (body.Agent as Json).ProxyOrganizationOpenId, FlowInfo: infos, FlowGroupId: '', FlowGroupName: '' };
    },
  };

  function count(action: string, field: keyof TencentActionStats): void {
    const stats = counters.get(action) ?? { calls: 0, rateLimited: 0 };
    stats[field] += 1;
    counters.set(action, stats);
  }

  function handle(request: EmulatorRequest): EmulatorReply {
    const headers = headerMap(request);
    const auth = verifyTc3({
      method: request.method,
      path: request.path,
      query: '',
      headers,
      body: request.rawBody,
      now: Math.floor(kit.clock.now() / 1000),
      lookupSecret: (id) => secrets.get(id),
    });
    if (!auth.ok) return refusal(auth.code, auth.message);
    const action = headers['x-tc-action'];
    if (!action) return refusal('MissingParameter', 'The request is missing a required parameter `X-TC-Action`.');
    const run = Object.prototype.hasOwnProperty.call(actions, action) ? actions[action] : undefined;
    if (!run) return refusal('InvalidAction', `The action \`${action}\` does not exist in essbasic.`);
    const version = headers['x-tc-version'];
    if (version !== ESS_VERSION) return refusal('NoSuchVersion', `The API version \`${version ?? ''}\` of \`${action}\` does not exist; use ${ESS_VERSION}.`);
    count(action, 'calls');
    if (!throttle.take(action)) {
      count(action, 'rateLimited');
      return refusal('RequestLimitExceeded', `请求的次数超过了频率限制: ${action} 每秒最多 ${options.ratePerSecond ?? 20} 次。`);
    }
    const body = request.json;
    if (!isObject(body)) return refusal('InvalidParameter', 'The request body must be a JSON object.');
    try {
      checkAgent(body);
      return answer(run(body));
    } catch (error) {
      if (error instanceof EssError) return refusal(error.code, error.message);
      throw error;
    }
  }

  const router = express.Router();
  router.post(
    '/',
    kit.handler({
      operation: (request) => request.header('x-tc-action'),
      faults: faultReplies,
      handle,
    }),
  );

  function createFlow(input: CreateFlowInput = {}): { flowId: string } {
    const name = input.status ?? 'SIGNING';
    let status = STATUS_FOR_ADMIN[name];
    if (!status) throw badRequest(`status ${name} has no Tencent flow state; use one of ${Object.keys(STATUS_FOR_ADMIN).join(', ')}`, 'status');
    const own = input.extra?.tencentStatus;
    if (own !== undefined) {
      if (!isEssFlowStatus(own)) throw badRequest(`tencentStatus must be one of ${ESS_FLOW_STATUSES.join(', ')}`, 'tencentStatus');
      status = own;
    }
    const flowName = input.extra?.flowName ?? '沙箱合同';
    if (typeof flowName !== 'string' || flowName === '' || [...flowName].length > 200) throw badRequest('flowName must be 1 to 200 characters', 'flowName');
    const flowId = input.flowId ?? essId('yDw');
    if (flows.has(flowId)) throw conflict(`tencent flow "${flowId}" already exists`, 'flowId');
    const now = kit.clock.now();
    flows.set(flowId, {
      flowId,
      flowName,
      flowType: '合同',
      status,
      message: '',
      createdOn: now,
      deadline: now + 30 * 86_400_000,
      signers: input.signers ?? 1,
      fileIds: input.fileIds ?? [essId('yDx')],
    });
    return { flowId };
  }

  function parseSettings(body: unknown): Partial<TencentEmulatorSettings> {
    if (!isObject(body)) throw badRequest('body must be a JSON object');
    const change: Partial<TencentEmulatorSettings> = {};
    for (const key of Object.keys(body)) {
      if (!['cancelTaskDelayMs', 'cancelTaskOutcome', 'flowCallbacks'].includes(key)) {
        throw badRequest(`unknown field "${key}"; allowed: cancelTaskDelayMs, cancelTaskOutcome, flowCallbacks`, key);
      }
    }
    if (body.cancelTaskDelayMs !== undefined) {
      const ms = body.cancelTaskDelayMs;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 600_000) throw badRequest('cancelTaskDelayMs must be an integer from 0 to 600000', 'cancelTaskDelayMs');
      change.cancelTaskDelayMs = ms;
    }
    if (body.cancelTaskOutcome !== undefined) {
      if (!['END', 'TIMEOUT', 'HOLD'].includes(body.cancelTaskOutcome as string)) throw badRequest('cancelTaskOutcome must be END, TIMEOUT or HOLD', 'cancelTaskOutcome');
      change.cancelTaskOutcome = body.cancelTaskOutcome as TencentEmulatorSettings['cancelTaskOutcome'];
    }
    if (body.flowCallbacks !== undefined) {
      if (typeof body.flowCallbacks !== 'boolean') throw badRequest('flowCallbacks must be true or false', 'flowCallbacks');
      change.flowCallbacks = body.flowCallbacks;
    }
    return change;
  }

  const emulator: TencentEmulator = {
    name: 'tencent',
    router,
    createFlowFields: ['flowName', 'tencentStatus'],

    reset() {
      timers.cancelAll();
      flows.clear();
      tasks.clear();
      counters.clear();
      throttle.clear();
      settings = { ...defaults };
    },

    createFlow,

    transition(flowId: string, input: TransitionInput): TransitionResult {
      // Admin moves are unconditional (a test may need any state); only the API obeys the state rules.
      const status = STATUS_FOR_ADMIN[input.status];
      if (!status) throw badRequest(`status ${input.status} has no Tencent flow state`, 'status');
      const flow = flows.get(flowId);
      if (!flow) throw notFound(`no tencent flow "${flowId}"`);
      flow.status = status;
      // Tencent calls back on every status change.
      flowStatusChange(flow);
      return { flowId, status: input.status, providerStatus: status, flowCallbackStatus: CALLBACK_STATUS_CODES[status], callbackQueued: true };
    },

    describeFlow(flowId: string) {
      const flow = flows.get(flowId);
      return flow ? { ...flow, fileIds: [...flow.fileIds] } : undefined;
    },

    getFlow(flowId: string) {
      const flow = flows.get(flowId);
      return flow ? { ...flow, fileIds: [...flow.fileIds] } : undefined;
    },

    listFlows() {
      return [...flows.values()].map((flow) => ({ ...flow, fileIds: [...flow.fileIds] }));
    },

    exportState() {
      return { flows: [...flows.values()], tasks: [...tasks.values()], settings: { ...settings } };
    },

    importState(state: unknown) {
      timers.cancelAll();
      flows.clear();
      tasks.clear();
      if (!isObject(state)) return;
      if (Array.isArray(state.flows)) for (const flow of state.flows as EssFlow[]) if (typeof flow?.flowId === 'string') flows.set(flow.flowId, flow);
      if (Array.isArray(state.tasks)) for (const task of state.tasks as CancelTask[]) if (typeof task?.taskId === 'string') tasks.set(task.taskId, task);
      if (isObject(state.settings)) settings = { ...defaults, ...(state.settings as Partial<TencentEmulatorSettings>) };
      // A batch task the old process left running ends now, as it would have a moment after the call.
      for (const task of tasks.values()) if (task.status === 'PROCESSING') scheduleTask(task, settings.cancelTaskDelayMs);
    },

    stats() {
      return Object.fromEntries([...counters].map(([action, stats]) => [action, { ...stats }]));
    },

    settings(change: Partial<TencentEmulatorSettings> = {}) {
      settings = { ...settings, ...change };
      return { ...settings };
    },

    adminRoutes(admin) {
      // Many flows in one call (benchmarks and batch tests): body {"count": n, "status"?: SignFlowStatus}.
      admin.post(
        '/flows/batch',
        adminRoute((body) => {
          if (!isObject(body)) throw badRequest('body must be a JSON object');
          const n = body.count;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100_000) throw badRequest('count must be an integer from 1 to 100000', 'count');
          const status = body.status ?? 'SIGNING';
          if (typeof status !== 'string' || !(status in STATUS_FOR_ADMIN)) throw badRequest(`status must be one of ${Object.keys(STATUS_FOR_ADMIN).join(', ')}`, 'status');
          return { flowIds: Array.from({ length: n }, () => createFlow({ status: status as CreateFlowInput['status'] }).flowId) };
        }, 201),
      );
      admin.get('/stats', adminRoute(() => ({ actions: emulator.stats() })));
      admin.post('/settings', adminRoute((body) => emulator.settings(parseSettings(body))));
    },

    close() {
      timers.cancelAll();
    },
  };
  return emulator;
}
