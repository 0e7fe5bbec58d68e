import { randomInt } from 'crypto';
import type { SignFlowStatusName } from '../kit';

/**
 * Tencent Electronic Signature flows as the emulator keeps them (docs/providers/tencent.md): the FlowStatus names of
 * DescribeFlowDetailInfo, the FlowCallbackStatus numbers of the FlowStatusChange callback, and which flows can still
 * be cancelled (seed 002: only flows not yet fully signed).
 */

export const ESS_FLOW_STATUSES = ['INIT', 'PART', 'REJECT', 'ALL', 'DEADLINE', 'CANCEL', 'INVALID', 'RELIEVED'] as const;
export type EssFlowStatus = (typeof ESS_FLOW_STATUSES)[number];

/** FlowCallbackStatus per FlowStatus (8, "INIT waiting to be filled in", is never produced here). */
export const CALLBACK_STATUS_CODES: Record<EssFlowStatus, number> = {
  INIT: 1,
  PART: 2,
  REJECT: 3,
  ALL: 4,
  DEADLINE: 5,
  CANCEL: 6,
  INVALID: 16,
  RELIEVED: 21,
};

/** How the admin API's provider-neutral statuses land on Tencent's. UNKNOWN has no Tencent counterpart. */
export const STATUS_FOR_ADMIN: Partial<Record<SignFlowStatusName, EssFlowStatus>> = {
  DRAFT: 'INIT',
  SIGNING: 'INIT',
  COMPLETED: 'ALL',
  REVOKED: 'CANCEL',
  EXPIRED: 'DEADLINE',
  REJECTED: 'REJECT',
  INVALIDATED: 'INVALID',
  RESCINDED: 'RELIEVED',
};

const LABELS: Record<EssFlowStatus, string> = {
  INIT: '待签署',
  PART: '部分签署',
  REJECT: '已拒签',
  ALL: '已签署',
  DEADLINE: '已过期',
  CANCEL: '已撤回',
  INVALID: '已失效',
  RELIEVED: '已解除',
};

export function label(status: EssFlowStatus): string {
  return LABELS[status];
}

export function isEssFlowStatus(value: unknown): value is EssFlowStatus {
  return typeof value === 'string' && (ESS_FLOW_STATUSES as readonly string[]).includes(value);
}

/** "只有未全部签署完成的合同可以撤销": a flow nobody has finished signing, and nobody has ended. */
export function isCancellable(status: EssFlowStatus): boolean {
  return status === 'INIT' || status === 'PART';
}

export interface EssFlow {
  /** 32 characters, like `yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm`. */
  flowId: string;
  flowName: string;
  flowType: string;
  status: EssFlowStatus;
  /** FlowMessage: why it was rejected or cancelled. */
  message: string;
  /** ms */
  createdOn: number;
  /** ms */
  deadline: number;
  signers: number;
  fileIds: string[];
  /** The batch-cancel task that is cancelling it right now. */
  cancellingTask?: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Tencent's ids: a two-letter `yD` prefix and 30 more letters or digits, 32 in all. */
export function essId(prefix = 'yD'): string {
  let id = prefix;
  while (id.length < 32) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
}

/** DescribeFlowDetailInfo's FlowInfo entry (times in Unix seconds). */
export function flowInfo(flow: EssFlow): Record<string, unknown> {
  return {
    FlowId: flow.flowId,
    FlowName: flow.flowName,
    FlowType: flow.flowType,
    FlowStatus: flow.status,
    FlowMessage: flow.message,
    FlowDescription: '',
    CreateOn: Math.floor(flow.createdOn / 1000),
    DeadLine: Math.floor(flow.deadline / 1000),
    CustomData: '',
    FlowApproverInfos: Array.from({ length: flow.signers }, (_, i) => ({
      ReceiptId: `${flow.flowId.slice(0, 24)}${String(i).padStart(8, '0')}`,
      ProxyOrganizationOpenId: '',
      ProxyOperatorOpenId: '',
      ApproveType: 'ORGANIZATION',
      ApproveStatus: flow.status,
    })),
    CcInfos: [],
  };
}
