/**
 * Rescissions (e签宝 合同解约, seed 003): after a flow is COMPLETED, its parties sign a "rescission agreement" — a new
 * flow at e签宝 — and once that is signed the original files lose their effect. The provider-neutral names the
 * API, the store, the lifecycle and the e签宝 mapping share.
 */

export const RESCISSION_REASONS = ['WRONG_TERMS', 'WRONG_SEAL', 'WRONG_SIGNER_INFO', 'COOPERATION_ENDED', 'OTHER'] as const;
export type RescissionReason = (typeof RESCISSION_REASONS)[number];

export const RESCISSION_STATUSES = ['INITIATED', 'RESCINDED', 'FAILED'] as const;
export type RescissionStatus = (typeof RESCISSION_STATUSES)[number];

/** Seed 003: at most 10 files per rescission, notes at most 200 characters. */
export const MAX_RESCISSION_FILES = 10;
export const MAX_RESCISSION_NOTES = 200;

/**
 * Whether a status report should replace the one stored. A rescission only moves forward: INITIATED, then
 * RESCINDED (the agreement was signed) or FAILED (it was revoked, rejected or expired). Callbacks arrive out of
 * order and are retried for hours, so a late "initiated" never undoes an outcome.
 */
export function supersedesRescission(current: RescissionStatus, next: RescissionStatus): boolean {
  return current === 'INITIATED' && next !== 'INITIATED';
}

/** `ESIGN:<the rescission agreement's flow id>`: the form every `Rescission.id` takes. */
export function rescissionId(rescissionFlowId: string): string {
  return `ESIGN:${rescissionFlowId}`;
}

/** Who asks for the rescission (seed 003 `rescissionInitiator`): a person, or an organisation and its transactor. */
export type RescissionInitiator =
  | { kind: 'person'; psnId: string }
  | { kind: 'organization'; orgId: string; transactorPsnId: string };

/** `chargeMode`: 0 the integrating app's company pays, 1 the initiating organisation pays (needs its authorisation). */
export type RescissionChargeMode = 'INTEGRATOR' | 'INITIATOR_ORGANIZATION';
/** `availableSignClientTypes`: 1 web (H5/PC), 2 Alipay. */
export type SignClientType = 'WEB' | 'ALIPAY';
/** `psnSealStyles`: 0 handwriting, 1 name seal, 2 handwriting with AI check. */
export type PersonSealStyle = 'HANDWRITING' | 'NAME_SEAL' | 'HANDWRITING_AI_CHECK';
/** `noticeTypes`: 1 SMS, 2 e-mail; none at all is "no notice". */
export type NoticeType = 'SMS' | 'EMAIL';

/** The optional `signFlowConfig` of seed 003, minus `notifyUrl` (a top-level field of the request). */
export interface RescissionFlowConfig {
  /** `signFlowExpireTime`. */
  expireTime?: Date | null;
  charge?: { mode?: RescissionChargeMode | null; orderType?: 'DISTRIBUTION' | null } | null;
  sign?: { availableSignClientTypes?: SignClientType[] | null; psnSealStyles?: PersonSealStyle[] | null } | null;
  notice?: { noticeTypes?: NoticeType[] | null; examineNotice?: boolean | null } | null;
}

/** One `autoSignOrg` entry: an organisation that signs the agreement automatically with `sealId`. */
export interface AutoSignOrg {
  orgId?: string | null;
  orgName?: string | null;
  sealId: string;
}

/** One `orgSignerTransactor` entry: who signs the agreement for an organisation. */
export interface OrgSignerTransactor {
  orgId?: string | null;
  orgName?: string | null;
  transactorInfo: { psnId?: string | null; psnAccount?: string | null; psnName?: string | null };
}

/** Everything seed 003's request accepts, in the API's names; the e签宝 client maps it to the wire. */
export interface RescissionRequest {
  /** The original, completed flow at e签宝. */
  providerFlowId: string;
  fileIds: string[];
  reason: RescissionReason;
  notes?: string | null;
  initiator: RescissionInitiator;
  /** Where e签宝 sends this rescission's callbacks. */
  notifyUrl: string;
  signFlowConfig?: RescissionFlowConfig | null;
  autoSignOrg?: AutoSignOrg[] | null;
  orgSignerTransactor?: OrgSignerTransactor[] | null;
}

/** What a provider that supports rescission offers beside {@link SignFlowProvider}. */
export interface RescissionProvider {
  /** Starts the rescission agreement; a refusal throws ProviderBusinessError (unknown flow: ProviderNotFoundError). */
  initiateRescission(request: RescissionRequest): Promise<{ rescissionFlowId: string }>;
}

/** Stable `UserError.code` values of initiateRescission beside the shared ones. Clients switch on these. */
export const RescissionErrorCode = {
  /** Rescission is an e签宝 feature; the flow belongs to another provider. */
  RESCISSION_NOT_SUPPORTED: 'RESCISSION_NOT_SUPPORTED',
  /** The flow is not COMPLETED (unfinished, revoked, …, or already rescinded). */
  FLOW_NOT_COMPLETED: 'FLOW_NOT_COMPLETED',
  /** A file id is not one of the flow's files (known when the flow was read from e签宝). */
  FILE_NOT_IN_FLOW: 'FILE_NOT_IN_FLOW',
  /** e签宝 refused the rescission (disallowed for the flow, a single signer, no rescindable files, …). */
  RESCISSION_REFUSED: 'RESCISSION_REFUSED',
} as const;
