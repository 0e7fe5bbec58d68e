import { detailData, rescissionStatusOf, type EsignFlow, type EsignSigner } from './flows';

/**
 * The e签宝 v3 operations the API uses, transport-free: a verified request in, an envelope out, state changed in
 * place (docs/providers/esign.md, seed 003). Callbacks are the emulator's business; these functions only report the events
 * that cause them.
 */

/**
 * Business codes. e签宝 documents 1439107 (no rescindable documents) and the message of a flow created with
 * rescission disallowed; every other code here is INFERRED, in e签宝's 143xxxx style, and stable so a client can
 * switch on it. Clients must decide on `code`, never on `message` (seed 003).
 */
export const ESIGN_CODES = {
  SUCCESS: 0,
  /** An unknown endpoint (HTTP 404). */
  NO_SUCH_API: 404,
  SYSTEM_ERROR: 500,
  RATE_LIMITED: 429,
  /** 参数错误: a field missing, of the wrong type or out of range. */
  INVALID_PARAMETER: 1435002,
  /** 签署流程不存在 (also for another application's flow). */
  FLOW_NOT_FOUND: 1437104,
  /** The flow's status does not allow the operation (revoke a finished flow, rescind an unfinished one). */
  FLOW_STATE: 1437188,
  /** A flow with a single signer cannot be rescinded. */
  SINGLE_SIGNER: 1439101,
  /** 该流程不支持解约! */
  RESCISSION_DISALLOWED: 1439102,
  /** A file is not one of the original flow's files. */
  FILE_NOT_IN_FLOW: 1439103,
  /** The initiator is neither a signer nor the initiator of the original flow. */
  NOT_A_PARTY: 1439104,
  /** 没有可解约的文档: every file asked for is already rescinded or in a rescission being signed (documented). */
  NO_RESCINDABLE_FILES: 1439107,
} as const;

/** The documented message of a flow created with rescission disallowed (docs/providers/esign.md). */
export const RESCISSION_DISALLOWED_MESSAGE = '该流程不支持解约!';

export interface Envelope {
  code: number;
  message: string;
  data: unknown;
}

export interface ApiReply {
  status: number;
  body: Envelope;
}

export function envelope(code: number, message: string, data: unknown = null): Envelope {
  return { code, message, data };
}

const ok = (data: unknown): ApiReply => ({ status: 200, body: envelope(ESIGN_CODES.SUCCESS, '成功', data) });
const refuse = (code: number, message: string): ApiReply => ({ status: 200, body: envelope(code, message) });
const invalid = (message: string): ApiReply => refuse(ESIGN_CODES.INVALID_PARAMETER, `参数错误: ${message}`);

export type EsignOperation = 'initiate-rescission' | 'revoke' | 'detail';

const ROUTE = /^\/v3\/sign-flow\/([^/?]+)\/(initiate-rescission|revoke|detail)$/;
const METHODS: Record<EsignOperation, string> = { 'initiate-rescission': 'POST', revoke: 'POST', detail: 'GET' };

/** Which operation a path names (the method checked too), or undefined. */
export function route(method: string, path: string): { operation: EsignOperation; flowId: string } | undefined {
  const match = ROUTE.exec(path);
  if (!match) return undefined;
  const operation = match[2] as EsignOperation;
  if (METHODS[operation] !== method.toUpperCase()) return undefined;
  let flowId: string;
  try {
    flowId = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  return { operation, flowId };
}

export interface ApiDeps {
  flows: Map<string, EsignFlow>;
  /** The application the request was signed by. */
  appId: string;
  now: number;
  newFlowId(): string;
  newFileId(): string;
  /** A rescission agreement was created; the emulator sends SIGN_FILE_RESCISSION_INITIATE. */
  rescissionInitiated(original: EsignFlow, agreement: EsignFlow): void;
  /** A flow was revoked; the emulator sends SIGN_FLOW_COMPLETE "3" and ends a rescission it carried. */
  revoked(flow: EsignFlow): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const characters = (v: string): number => [...v].length;

/** A comma-separated list of codes drawn from `allowed` (`"1,2"`); `allowEmpty` accepts `""`. */
function codeList(value: unknown, allowed: readonly string[], allowEmpty: boolean): boolean {
  if (typeof value !== 'string') return false;
  if (value === '') return allowEmpty;
  return value.split(',').every((code) => allowed.includes(code));
}

function validUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The seed-003 request, checked field by field; the first problem, or undefined. */
export function rescissionProblem(body: unknown, now: number): string | undefined {
  if (!isObject(body)) return '请求体必须是 JSON 对象';
  const files = body.rescindFileList;
  if (!Array.isArray(files) || files.length === 0) return 'rescindFileList 不能为空';
  if (files.length > 10) return 'rescindFileList 一次最多10份文件';
  if (!files.every(nonEmpty)) return 'rescindFileList 必须是文件ID列表';
  if (new Set(files).size !== files.length) return 'rescindFileList 文件ID重复';
  if (typeof body.rescindReason !== 'string' || !['1', '2', '3', '4', '5'].includes(body.rescindReason)) {
    return 'rescindReason 必须是 "1" 到 "5"';
  }
  if (body.rescindReasonNotes !== undefined && (typeof body.rescindReasonNotes !== 'string' || characters(body.rescindReasonNotes) > 200)) {
    return 'rescindReasonNotes 最长200字';
  }
  const initiator = body.rescissionInitiator;
  if (!isObject(initiator)) return 'rescissionInitiator 不能为空';
  const psn = initiator.psnInitiator;
  const org = initiator.orgInitiator;
  if ((psn === undefined) === (org === undefined)) return 'psnInitiator 与 orgInitiator 必须二选一';
  if (psn !== undefined && (!isObject(psn) || !nonEmpty(psn.psnId))) return 'psnInitiator.psnId 不能为空';
  if (org !== undefined) {
    if (!isObject(org) || !nonEmpty(org.orgId)) return 'orgInitiator.orgId 不能为空';
    if (!isObject(org.transactor) || !nonEmpty(org.transactor.psnId)) return 'orgInitiator.transactor.psnId 不能为空';
  }
  const config = body.signFlowConfig;
  if (config !== undefined) {
    if (!isObject(config)) return 'signFlowConfig 必须是对象';
    if (config.notifyUrl !== undefined && !validUrl(config.notifyUrl)) return 'signFlowConfig.notifyUrl 不是有效的 http(s) 地址';
    const expire = config.signFlowExpireTime;
    if (expire !== undefined && (typeof expire !== 'number' || !Number.isInteger(expire) || expire <= now)) {
      return 'signFlowConfig.signFlowExpireTime 必须是晚于当前时间的毫秒时间戳';
    }
    const charge = config.chargeConfig;
    if (charge !== undefined) {
      if (!isObject(charge)) return 'chargeConfig 必须是对象';
      if (charge.chargeMode !== undefined && charge.chargeMode !== 0 && charge.chargeMode !== 1) return 'chargeConfig.chargeMode 必须是 0 或 1';
      if (charge.chargeMode === 1 && org === undefined) return 'chargeConfig.chargeMode 为 1 时发起方必须是机构';
      if (charge.orderType !== undefined && charge.orderType !== 'DISTRIBUTION') return 'chargeConfig.orderType 只能是 DISTRIBUTION';
    }
    const sign = config.signConfig;
    if (sign !== undefined) {
      if (!isObject(sign)) return 'signConfig 必须是对象';
      if (sign.availableSignClientTypes !== undefined && !codeList(sign.availableSignClientTypes, ['1', '2'], false)) {
        return 'signConfig.availableSignClientTypes 只能是 1、2';
      }
      if (sign.psnSealStyles !== undefined && !codeList(sign.psnSealStyles, ['0', '1', '2'], false)) return 'signConfig.psnSealStyles 只能是 0、1、2';
    }
    const notice = config.noticeConfig;
    if (notice !== undefined) {
      if (!isObject(notice)) return 'noticeConfig 必须是对象';
      if (notice.noticeTypes !== undefined && !codeList(notice.noticeTypes, ['1', '2'], true)) return 'noticeConfig.noticeTypes 只能是 ""、1、2';
      if (notice.examineNotice !== undefined && typeof notice.examineNotice !== 'boolean') return 'noticeConfig.examineNotice 必须是布尔值';
    }
  }
  const orgKey = (entry: Record<string, unknown>): string => (nonEmpty(entry.orgId) ? `id:${entry.orgId}` : `name:${String(entry.orgName)}`);
  const autoSign = new Set<string>();
  if (body.autoSignOrg !== undefined) {
    if (!Array.isArray(body.autoSignOrg)) return 'autoSignOrg 必须是数组';
    for (const entry of body.autoSignOrg as unknown[]) {
      if (!isObject(entry) || nonEmpty(entry.orgId) === nonEmpty(entry.orgName)) return 'autoSignOrg 的 orgId 与 orgName 必须二选一';
      if (!nonEmpty(entry.sealId)) return 'autoSignOrg.sealId 自动签署时必传';
      autoSign.add(orgKey(entry));
    }
  }
  if (body.orgSignerTransactor !== undefined) {
    if (!Array.isArray(body.orgSignerTransactor)) return 'orgSignerTransactor 必须是数组';
    for (const entry of body.orgSignerTransactor as unknown[]) {
      if (!isObject(entry) || nonEmpty(entry.orgId) === nonEmpty(entry.orgName)) return 'orgSignerTransactor 的 orgId 与 orgName 必须二选一';
      const info = entry.transactorInfo;
      if (!isObject(info)) return 'orgSignerTransactor.transactorInfo 不能为空';
      if (nonEmpty(entry.orgId) && !nonEmpty(info.psnId)) return '指定 orgId 时 transactorInfo.psnId 必传';
      if (nonEmpty(entry.orgName) && !nonEmpty(info.psnAccount)) return '指定 orgName 时 transactorInfo.psnAccount 必传';
      if (autoSign.has(orgKey(entry))) return '同一企业不能同时指定平台自动签(autoSignOrg)和经办人手动签(orgSignerTransactor)';
    }
  }
  return undefined;
}

/** Seed 003: only a signer or the initiator of the original flow may start its rescission. */
function isParty(flow: EsignFlow, initiator: Record<string, unknown>): boolean {
  const psn = initiator.psnInitiator as Record<string, unknown> | undefined;
  const org = initiator.orgInitiator as Record<string, unknown> | undefined;
  if (psn) {
    return psn.psnId === flow.initiator.psnId || flow.signers.some((s: EsignSigner) => s.kind === 'person' && s.psnId === psn.psnId);
  }
  return flow.signers.some((s: EsignSigner) => s.kind === 'organization' && s.orgId === org?.orgId);
}

function initiateRescission(flowId: string, body: unknown, deps: ApiDeps): ApiReply {
  const problem = rescissionProblem(body, deps.now);
  if (problem) return invalid(problem);
  const request = body as Record<string, unknown>;
  const flow = deps.flows.get(flowId);
  if (!flow || flow.appId !== deps.appId) return refuse(ESIGN_CODES.FLOW_NOT_FOUND, `签署流程不存在: ${flowId}`);
  if (flow.status !== 2) return refuse(ESIGN_CODES.FLOW_STATE, '仅已完成状态的签署流程可以发起解约');
  if (flow.signers.length < 2) return refuse(ESIGN_CODES.SINGLE_SIGNER, '单方签署的流程不支持发起解约');
  if (!flow.rescissionAllowed) return refuse(ESIGN_CODES.RESCISSION_DISALLOWED, RESCISSION_DISALLOWED_MESSAGE);
  const files = request.rescindFileList as string[];
  const foreign = files.find((id) => !flow.fileIds.includes(id));
  if (foreign !== undefined) return refuse(ESIGN_CODES.FILE_NOT_IN_FLOW, `文件不属于原签署流程: ${foreign}`);
  if (!isParty(flow, request.rescissionInitiator as Record<string, unknown>)) {
    return refuse(ESIGN_CODES.NOT_A_PARTY, '仅原流程中的签署方或发起方可以发起解约');
  }
  if (files.some((id) => flow.rescindedFileIds.includes(id) || flow.pendingFileIds.includes(id))) {
    return refuse(ESIGN_CODES.NO_RESCINDABLE_FILES, '没有可解约的文档');
  }

  const config = request.signFlowConfig as Record<string, unknown> | undefined;
  const agreement: EsignFlow = {
    signFlowId: deps.newFlowId(),
    appId: flow.appId,
    title: `${flow.title}-解约协议`,
    status: 1,
    createTime: deps.now,
    startTime: deps.now,
    finishTime: null,
    initiator: { ...flow.initiator },
    signers: flow.signers.map((s) => ({ ...s })),
    fileIds: [deps.newFileId()],
    rescissionAllowed: false,
    // The rescission's callbacks go where it asked, else where the original flow's go.
    notifyUrl: typeof config?.notifyUrl === 'string' ? config.notifyUrl : flow.notifyUrl,
    rescissionStatus: 0,
    rescissionSignFlowIds: [],
    rescindedFileIds: [],
    pendingFileIds: [],
    rescissionOf: {
      originalFlowId: flow.signFlowId,
      fileIds: [...files],
      rescindReason: request.rescindReason as string,
      ...(typeof request.rescindReasonNotes === 'string' ? { rescindReasonNotes: request.rescindReasonNotes } : {}),
      request: structuredClone(request),
    },
  };
  deps.flows.set(agreement.signFlowId, agreement);
  flow.pendingFileIds.push(...files);
  flow.rescissionSignFlowIds.push(agreement.signFlowId);
  flow.rescissionStatus = rescissionStatusOf(flow);
  deps.rescissionInitiated(flow, agreement);
  return ok({ signFlowId: agreement.signFlowId });
}

function revoke(flowId: string, body: unknown, deps: ApiDeps): ApiReply {
  if (body !== undefined && !isObject(body)) return invalid('请求体必须是 JSON 对象');
  const reason = isObject(body) ? body.revokeReason : undefined;
  if (reason !== undefined && (typeof reason !== 'string' || characters(reason) > 50)) return invalid('revokeReason 最长50字');
  const flow = deps.flows.get(flowId);
  if (!flow || flow.appId !== deps.appId) return refuse(ESIGN_CODES.FLOW_NOT_FOUND, `签署流程不存在: ${flowId}`);
  // "revokes an unfinished flow": a draft or a flow being signed.
  if (flow.status !== 0 && flow.status !== 1) return refuse(ESIGN_CODES.FLOW_STATE, `当前流程状态不支持撤销: ${flow.status}`);
  flow.status = 3;
  flow.finishTime = deps.now;
  flow.revokeReason = typeof reason === 'string' && reason !== '' ? reason : '撤销';
  deps.revoked(flow);
  return ok(null);
}

function detail(flowId: string, deps: ApiDeps): ApiReply {
  const flow = deps.flows.get(flowId);
  if (!flow || flow.appId !== deps.appId) return refuse(ESIGN_CODES.FLOW_NOT_FOUND, `签署流程不存在: ${flowId}`);
  return ok(detailData(flow));
}

/**
 * One authenticated request. `json` is the parsed body (undefined when there is none); `malformed` says a body was
 * sent that is not JSON.
 */
export function handleApi(
  request: { method: string; path: string; json: unknown; malformed: boolean },
  deps: ApiDeps,
): ApiReply {
  const target = route(request.method, request.path);
  if (!target) return { status: 404, body: envelope(ESIGN_CODES.NO_SUCH_API, `接口不存在: ${request.method} ${request.path}`) };
  if (request.malformed) return invalid('请求体不是有效的 JSON');
  switch (target.operation) {
    case 'initiate-rescission':
      return initiateRescission(target.flowId, request.json, deps);
    case 'revoke':
      return revoke(target.flowId, request.json, deps);
    case 'detail':
      return detail(target.flowId, deps);
  }
}
