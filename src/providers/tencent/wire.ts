/**
 * Tencent Electronic Signature (essbasic 2021-05-26) on the wire: what the client sends and the shapes it accepts
 * back, with the edge validation of each answer. docs/providers/tencent.md and seed 002.
 */

export const ESS_SERVICE = 'essbasic';
export const ESS_VERSION = '2021-05-26';
export const ESS_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Seed 002: "最多100个，超过100不处理". DescribeFlowDetailInfo takes the same maximum (docs/providers/tencent.md). */
export const ESS_MAX_FLOW_IDS = 100;
/** Seed 002: CancelMessage "长度不能超过200". */
export const ESS_MAX_CANCEL_MESSAGE = 200;
/** Seed 002: the reason Tencent shows when CancelMessage is left out. */
export const ESS_DEFAULT_CANCEL_MESSAGE = '自动撤销(通过接口实现)';

/** The platform-edition caller: application, sub-client organisation and its operator (all required here). */
export interface EssAgent {
  AppId: string;
  ProxyOrganizationOpenId: string;
  ProxyOperator: { OpenId: string };
}

export const CANCEL_TASK_STATUSES = ['PROCESSING', 'END', 'TIMEOUT'] as const;
export type CancelTaskStatus = (typeof CANCEL_TASK_STATUSES)[number];

/** DescribeCancelFlowsTask's answer, and (inferred, docs/providers/tencent.md) the MsgData of the CancelFlows callback. */
export interface CancelFlowsTaskResult {
  taskId?: string;
  status: CancelTaskStatus;
  successFlowIds: string[];
  failureFlows: Array<{ flowId: string; reason: string }>;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a cancel task's result, from DescribeCancelFlowsTask or from a CancelFlows callback's MsgData.
 * `where` prefixes field names in messages (`Response.`, `MsgData.`). A missing or null list is an empty one.
 */
export function checkCancelTaskResult(data: Record<string, unknown>, where: string): Checked<CancelFlowsTaskResult> {
  const status = data.TaskStatus;
  if (typeof status !== 'string' || !(CANCEL_TASK_STATUSES as readonly string[]).includes(status)) {
    return { ok: false, message: `${where}TaskStatus must be one of ${CANCEL_TASK_STATUSES.join(', ')}` };
  }
  const success = data.SuccessFlowIds ?? [];
  if (!Array.isArray(success) || success.some((id) => typeof id !== 'string')) {
    return { ok: false, message: `${where}SuccessFlowIds must be an array of strings` };
  }
  const failures = data.FailureFlows ?? [];
  if (!Array.isArray(failures)) return { ok: false, message: `${where}FailureFlows must be an array` };
  const failureFlows: CancelFlowsTaskResult['failureFlows'] = [];
  for (const [i, f] of failures.entries()) {
    if (!isRecord(f) || typeof f.FlowId !== 'string') return { ok: false, message: `${where}FailureFlows[${i}].FlowId must be a string` };
    if (f.Reason !== undefined && f.Reason !== null && typeof f.Reason !== 'string') {
      return { ok: false, message: `${where}FailureFlows[${i}].Reason must be a string` };
    }
    failureFlows.push({ flowId: f.FlowId, reason: typeof f.Reason === 'string' && f.Reason !== '' ? f.Reason : '(no reason given)' });
  }
  const taskId = data.TaskId;
  if (taskId !== undefined && typeof taskId !== 'string') return { ok: false, message: `${where}TaskId must be a string` };
  return { ok: true, value: { taskId, status: status as CancelTaskStatus, successFlowIds: success as string[], failureFlows } };
}

/** Seed 002: "只能由中文、字母、数字和下划线组成". Chinese is the Han script; letters are A–Z and a–z. */
const CANCEL_MESSAGE_CHARS = /^[\p{Script=Han}A-Za-z0-9_]+$/u;

/**
 * Why a CancelMessage would be refused, or undefined when it is fine. Note the seed's own default and examples
 * contain punctuation the rule forbids; the rule is what is checked, and the default is sent by leaving the field out.
 */
export function cancelMessageProblem(message: string): string | undefined {
  const length = [...message].length;
  if (length > ESS_MAX_CANCEL_MESSAGE) return `must be at most ${ESS_MAX_CANCEL_MESSAGE} characters, got ${length}`;
  if (!CANCEL_MESSAGE_CHARS.test(message)) {
    const bad = [...message].find((c) => !CANCEL_MESSAGE_CHARS.test(c));
    return `may contain only Chinese characters, letters, digits and underscore (found ${JSON.stringify(bad)})`;
  }
  return undefined;
}
