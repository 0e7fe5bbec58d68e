/**
 * The provider-neutral model the API speaks. GraphQL enums, store rows and provider mappings all use these names.
 */
export const SIGN_PROVIDERS = ['ETC', 'TENCENT_ESS', 'ESIGN'] as const;
export type SignProvider = (typeof SIGN_PROVIDERS)[number];

export const SIGN_FLOW_STATUSES = [
  'DRAFT',
  'SIGNING',
  'COMPLETED',
  'REVOKED',
  'EXPIRED',
  'REJECTED',
  'INVALIDATED',
  'RESCINDED',
  'UNKNOWN',
] as const;
export type SignFlowStatus = (typeof SIGN_FLOW_STATUSES)[number];

export const EVENT_SOURCES = ['CALLBACK', 'MUTATION', 'SYNC'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/** Statuses after which a flow can no longer be signed or revoked. RESCINDED follows COMPLETED. */
export const TERMINAL_STATUSES: ReadonlySet<SignFlowStatus> = new Set([
  'COMPLETED',
  'REVOKED',
  'EXPIRED',
  'REJECTED',
  'INVALIDATED',
  'RESCINDED',
]);

export function isTerminal(status: SignFlowStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/**
 * Whether a status report should replace the one stored. Reports arrive out of order (callbacks are retried,
 * read-through races callbacks), so a terminal state is never overwritten by a non-terminal one; COMPLETED may
 * still become RESCINDED or INVALIDATED.
 */
export function supersedes(current: SignFlowStatus, next: SignFlowStatus): boolean {
  if (current === next) return false;
  if (next === 'UNKNOWN') return false;
  if (!isTerminal(current)) return true;
  return current === 'COMPLETED' && (next === 'RESCINDED' || next === 'INVALIDATED');
}

/** `ETC:c64665aa…` — the provider and the provider's own id, the form every `SignFlow.id` takes. */
export interface FlowRef {
  provider: SignProvider;
  providerFlowId: string;
}

export function flowId(ref: FlowRef): string {
  return `${ref.provider}:${ref.providerFlowId}`;
}

const FLOW_ID = /^(ETC|TENCENT_ESS|ESIGN):([A-Za-z0-9_\-.]{1,64})$/;

/** Parses a `SignFlow.id`; undefined when it is not of the form `<SignProvider>:<provider's flow id>`. */
export function parseFlowId(id: string): FlowRef | undefined {
  const match = FLOW_ID.exec(id);
  if (!match) return undefined;
  return { provider: match[1] as SignProvider, providerFlowId: match[2] };
}

/** A business refusal or an input problem, answered in a payload's `userErrors` rather than as a GraphQL error. */
export interface UserError {
  code: string;
  message: string;
  field?: string[];
}

/** Stable `UserError.code` values. Clients switch on these; never rename one. */
export const UserErrorCode = {
  INVALID_INPUT: 'INVALID_INPUT',
  INVALID_ID: 'INVALID_ID',
  FLOW_NOT_FOUND: 'FLOW_NOT_FOUND',
  FLOW_NOT_REVOCABLE: 'FLOW_NOT_REVOCABLE',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  PROVIDER_REJECTED: 'PROVIDER_REJECTED',
  /** cancelSignFlows: the caller already has CANCEL_TASKS_PER_CALLER tasks still PROCESSING. */
  TOO_MANY_CANCEL_TASKS: 'TOO_MANY_CANCEL_TASKS',
} as const;
