import { formatChinaTime, type SignFlowStatusName } from '../kit';

/**
 * ETC sign flows as the emulator keeps them, and the mapping between ETC's numeric statuses
 * (docs/providers/etc.md: 0 draft, 1 signing, 2 completed, 3 revoked, 5 expired, 7 rejected) and the API's names.
 */

export type EtcFlowStatusCode = 0 | 1 | 2 | 3 | 5 | 7;

export const ETC_STATUS_CODES = {
  DRAFT: 0,
  SIGNING: 1,
  COMPLETED: 2,
  REVOKED: 3,
  EXPIRED: 5,
  REJECTED: 7,
} as const satisfies Partial<Record<SignFlowStatusName, EtcFlowStatusCode>>;

export type EtcStatusName = keyof typeof ETC_STATUS_CODES;

export const ETC_STATUS_NAMES = Object.keys(ETC_STATUS_CODES) as EtcStatusName[];

const LABELS: Record<EtcFlowStatusCode, string> = {
  0: '草稿',
  1: '签署中',
  2: '已完成',
  3: '已撤销',
  5: '已过期',
  7: '已拒签',
};

export function isEtcStatusName(status: string): status is EtcStatusName {
  return Object.prototype.hasOwnProperty.call(ETC_STATUS_CODES, status);
}

export function statusName(code: EtcFlowStatusCode): EtcStatusName {
  return ETC_STATUS_NAMES.find((name) => ETC_STATUS_CODES[name] === code) as EtcStatusName;
}

/** `1(签署中)`: how a status appears in the emulator's messages. */
export function describeStatus(code: EtcFlowStatusCode): string {
  return `${code}(${LABELS[code]})`;
}

/** Completed, revoked, expired and rejected flows are over; the platform calls back on entering one of them. */
export function isFinished(code: EtcFlowStatusCode): boolean {
  return code === 2 || code === 3 || code === 5 || code === 7;
}

export interface EtcSigner {
  accountId: string;
  name: string;
}

export interface EtcFlow {
  /** 32 lowercase hex characters unless an admin chose another id. */
  flowId: string;
  status: EtcFlowStatusCode;
  /** ms */
  startTime: number;
  /** ms; null until the flow is finished. */
  endTime: number | null;
  flowDesc: string;
  businessScene: string;
  signers: EtcSigner[];
  fileIds: string[];
  /** `sign_file_url` of the callback (≤128 characters, seed 001). */
  fileUrl: string;
  revokeReason?: string;
  /** `etc_member_no` of the revoke. */
  revokedBy?: string;
}

/** `esign.signflows.query`'s data. Times are `YYYY-MM-DD HH:mm:ss` China time, like the callback's sign_end_time. */
export interface EtcFlowQueryData {
  flowId: string;
  flowStatus: EtcFlowStatusCode;
  flowStartTime: string;
  flowEndTime: string | null;
  flowDesc: string;
  businessScene: string;
}

export function queryData(flow: EtcFlow): EtcFlowQueryData {
  return {
    flowId: flow.flowId,
    flowStatus: flow.status,
    flowStartTime: formatChinaTime(flow.startTime),
    flowEndTime: flow.endTime === null ? null : formatChinaTime(flow.endTime),
    flowDesc: flow.flowDesc,
    businessScene: flow.businessScene,
  };
}
