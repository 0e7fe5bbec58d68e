import type { SignFlowStatusName } from '../kit';

/**
 * e签宝 sign flows as the emulator keeps them, and the mapping between e签宝's numeric statuses (docs/providers/esign.md:
 * 0 draft, 1 signing, 2 completed, 3 revoked, 5 expired, 7 rejected) and the API's names.
 */

export type EsignStatusCode = 0 | 1 | 2 | 3 | 5 | 7;

export const ESIGN_STATUS_CODES = {
  DRAFT: 0,
  SIGNING: 1,
  COMPLETED: 2,
  REVOKED: 3,
  EXPIRED: 5,
  REJECTED: 7,
} as const satisfies Partial<Record<SignFlowStatusName, EsignStatusCode>>;

export type EsignStatusName = keyof typeof ESIGN_STATUS_CODES;
export const ESIGN_STATUS_NAMES = Object.keys(ESIGN_STATUS_CODES) as EsignStatusName[];

export function isEsignStatusName(status: string): status is EsignStatusName {
  return Object.prototype.hasOwnProperty.call(ESIGN_STATUS_CODES, status);
}

export function statusName(code: EsignStatusCode): EsignStatusName {
  return ESIGN_STATUS_NAMES.find((name) => ESIGN_STATUS_CODES[name] === code) as EsignStatusName;
}

/** Completed, revoked, expired and rejected flows are over; SIGN_FLOW_COMPLETE fires on entering one of them. */
export function isFinished(code: EsignStatusCode): boolean {
  return code === 2 || code === 3 || code === 5 || code === 7;
}

/** Detail `rescissionStatus`: 0 none, 1 in progress, 2 partly rescinded, 3 rescinded. */
export type RescissionStatusCode = 0 | 1 | 2 | 3;

export type EsignSigner =
  | { kind: 'person'; psnId: string; psnName: string }
  | { kind: 'organization'; orgId: string; orgName: string; transactorPsnId: string };

/** What makes a flow a rescission agreement: the original flow and the request that started it. */
export interface RescissionLink {
  originalFlowId: string;
  fileIds: string[];
  /** "1".."5" */
  rescindReason: string;
  rescindReasonNotes?: string;
  /** The request body as received, for `GET /_admin/esign/flows/{id}`. */
  request: Record<string, unknown>;
}

export interface EsignFlow {
  signFlowId: string;
  /** The application that owns the flow; another app's requests do not see it. */
  appId: string;
  title: string;
  status: EsignStatusCode;
  /** ms */
  createTime: number;
  startTime: number;
  /** ms; null until the flow is finished. */
  finishTime: number | null;
  initiator: { psnId: string; psnName: string };
  signers: EsignSigner[];
  fileIds: string[];
  /** A flow created with rescission disallowed refuses initiate-rescission ("该流程不支持解约!"). */
  rescissionAllowed: boolean;
  /** Where this flow's callbacks go; undefined: the sandbox's callback URL for e签宝, read at send time. */
  notifyUrl?: string;
  rescissionStatus: RescissionStatusCode;
  rescissionSignFlowIds: string[];
  /** Files whose rescission agreement was signed. */
  rescindedFileIds: string[];
  /** Files in a rescission agreement still being signed. */
  pendingFileIds: string[];
  /** Set when this flow is a rescission agreement. */
  rescissionOf?: RescissionLink;
  revokeReason?: string;
}

/** 3 when every file is rescinded, 1 while an agreement is being signed, 2 when some are rescinded, else 0. */
export function rescissionStatusOf(flow: Pick<EsignFlow, 'fileIds' | 'rescindedFileIds' | 'pendingFileIds'>): RescissionStatusCode {
  if (flow.fileIds.length > 0 && flow.fileIds.every((id) => flow.rescindedFileIds.includes(id))) return 3;
  if (flow.pendingFileIds.length > 0) return 1;
  if (flow.rescindedFileIds.length > 0) return 2;
  return 0;
}

/** `GET /v3/sign-flow/{id}/detail`'s data, in the shape of e签宝's documented answer (times in ms). */
export function detailData(flow: EsignFlow): Record<string, unknown> {
  return {
    signFlowStatus: flow.status,
    signFlowDescription: flow.title,
    rescissionStatus: flow.rescissionStatus,
    rescissionSignFlowIds: [...flow.rescissionSignFlowIds],
    signFlowCreateTime: flow.createTime,
    signFlowStartTime: flow.startTime,
    signFlowFinishTime: flow.finishTime,
    signFlowInitiator: { psnInitiator: { psnId: flow.initiator.psnId, psnName: flow.initiator.psnName } },
    signFlowConfig: { signFlowTitle: flow.title, ...(flow.notifyUrl ? { notifyUrl: flow.notifyUrl } : {}) },
    docs: flow.fileIds.map((fileId, i) => ({ fileId, fileName: `沙箱文件${i + 1}.pdf` })),
    signers: flow.signers.map((signer, i) =>
      signer.kind === 'person'
        ? { psnSigner: { psnId: signer.psnId, psnName: signer.psnName }, signerType: 0, signOrder: i + 1, signStatus: flow.status === 2 ? 2 : 1 }
        : {
            orgSigner: { orgId: signer.orgId, orgName: signer.orgName },
            transactor: { psnId: signer.transactorPsnId },
            signerType: 1,
            signOrder: i + 1,
            signStatus: flow.status === 2 ? 2 : 1,
          },
    ),
  };
}
