/**
 * Auto-debit authorizations (Yuansfer, docs/providers/yuansfer.md): the provider-neutral names the API, the store and the
 * Yuansfer mapping share.
 */
export const AUTO_DEBIT_STATUSES = ['PENDING', 'ACTIVE', 'REVOKED'] as const;
export type AutoDebitStatus = (typeof AUTO_DEBIT_STATUSES)[number];

/** The only provider of auto-debit authorizations; the prefix of every `AutoDebit.id`. */
export const AUTO_DEBIT_PROVIDER = 'YUANSFER';

const RANK: Record<AutoDebitStatus, number> = { PENDING: 0, ACTIVE: 1, REVOKED: 2 };

/**
 * Whether a status report should replace the one stored. An authorization only moves forward (PENDING → ACTIVE →
 * REVOKED, or PENDING → REVOKED when the request is withdrawn): IPNs are resent and may arrive after our own
 * revoke, and a late "authorized" notice must never bring a revoked authorization back.
 */
export function supersedesAutoDebit(current: AutoDebitStatus, next: AutoDebitStatus): boolean {
  return RANK[next] > RANK[current];
}

/** Yuansfer's `autoDebitNo` (18 digits in the docs); letters, `_` and `-` are tolerated, never separators. */
export const AUTO_DEBIT_NO = /^[A-Za-z0-9_-]{1,64}$/;

/** `YUANSFER:298222562856331071`: the form every `AutoDebit.id` takes. */
export function autoDebitId(autoDebitNo: string): string {
  return `${AUTO_DEBIT_PROVIDER}:${autoDebitNo}`;
}

/** The `autoDebitNo` inside an `AutoDebit.id`; undefined when the id is not of that form. */
export function parseAutoDebitId(id: string): string | undefined {
  const prefix = `${AUTO_DEBIT_PROVIDER}:`;
  if (!id.startsWith(prefix)) return undefined;
  const no = id.slice(prefix.length);
  return AUTO_DEBIT_NO.test(no) ? no : undefined;
}

/** Stable `UserError.code`s of the auto-debit mutations, beside the shared `UserErrorCode`s. Never rename one. */
export const AutoDebitErrorCode = {
  /** Yuansfer knows no such authorization (for that merchant). */
  AUTO_DEBIT_NOT_FOUND: 'AUTO_DEBIT_NOT_FOUND',
  /** The authorization was revoked before: by us, by another system, or by the payer. */
  AUTO_DEBIT_ALREADY_REVOKED: 'AUTO_DEBIT_ALREADY_REVOKED',
} as const;
