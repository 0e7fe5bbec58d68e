/** The outcome of one requested flow, as `CancelTask.items` reports it once the task has finished. */
export interface Outcome {
  id: string;
  /** null: the task ended (TIMEOUT) without learning what the provider did. */
  ok: boolean | null;
  code: string | null;
  reason: string | null;
}

/** The CLI's exit codes (README "CLI"). */
export const EXIT = { OK: 0, ERROR: 1, PARTIAL: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** 0 when every flow was cancelled; 2 when any failed or stayed unknown. Errors before a result (1) never get here. */
export function exitCodeFor(outcomes: readonly Pick<Outcome, 'ok'>[]): ExitCode {
  return outcomes.every((o) => o.ok === true) ? EXIT.OK : EXIT.PARTIAL;
}

export interface Tally {
  total: number;
  succeeded: number;
  failed: number;
  unknown: number;
}

export function tally(outcomes: readonly Pick<Outcome, 'ok'>[]): Tally {
  let succeeded = 0;
  let failed = 0;
  for (const o of outcomes) {
    if (o.ok === true) succeeded++;
    else if (o.ok === false) failed++;
  }
  return { total: outcomes.length, succeeded, failed, unknown: outcomes.length - succeeded - failed };
}

export const FAILED_CSV_COLUMNS = ['id', 'code', 'reason'] as const;

/** Rows of the failed-items CSV: every flow not cancelled, in input order. */
export function failedRows(outcomes: readonly Outcome[]): string[][] {
  return outcomes
    .filter((o) => o.ok !== true)
    .map((o) =>
      o.ok === false
        ? [o.id, o.code ?? 'FAILED', o.reason ?? '']
        : [o.id, o.code ?? 'UNKNOWN', o.reason ?? 'the task ended before the provider said whether this flow was cancelled; read it with `flow <id>`'],
    );
}

/** RFC 4180: a field with a delimiter, a quote or a line break is quoted, its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/**
 * The failed-items file. It starts with a UTF-8 byte-order mark because providers answer reasons in Chinese and
 * spreadsheet programs read a CSV without one in the local code page; its `id` column makes it valid input for
 * `cancel --file` again.
 */
export function failedCsv(outcomes: readonly Outcome[]): string {
  return `\uFEFF${toCsv([[...FAILED_CSV_COLUMNS], ...failedRows(outcomes)])}`;
}
