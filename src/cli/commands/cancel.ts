import fs from 'node:fs';
import { SingleBar } from 'cli-progress';
import { chunk } from '../../util/arrays';
import { CliError, describeSubscriptionError, type ApiClient } from '../client';
import { InputError, parseIdFile, type IdEntry } from '../input';
import {
  CANCEL_SIGN_FLOWS,
  CANCEL_TASK,
  CANCEL_TASK_PAGE,
  CANCEL_TASK_PROGRESS,
  type CancelSignFlowsData,
  type CancelTaskData,
  type TaskSummary,
  type UserErrorShape,
} from '../operations';
import { exitCodeFor, failedCsv, tally, type ExitCode, type Outcome } from '../report';
import type { Io } from '../io';

export const CANCEL_MESSAGE_FORMATS = ['DEFAULT', 'INITIATOR_ONLY', 'ORGANIZATION', 'ORGANIZATION_AND_OPERATOR'] as const;

/**
 * Ids per request unless `--batch-size` says otherwise. Requests run one after another and each task pays its own
 * wait for the provider's result, so fewer, larger requests finish sooner (2,500 Tencent flows against the sandbox:
 * 7.3 s as one task, 13.6 s as three). 10,000 stays under the server's default cap (20,000) and keeps a request
 * under its 1 MB JSON body limit even with 64-character flow ids (about 0.8 MB). A server configured with a lower
 * cap says so in its refusal, and the rest is split to fit (`serverCap`).
 */
export const DEFAULT_BATCH_SIZE = 10_000;

export interface CancelOptions {
  file: string;
  reason?: string;
  cancelMessageFormat?: (typeof CANCEL_MESSAGE_FORMATS)[number];
  etcMemberNo?: string;
  idempotencyKey?: string;
  failedOut?: string;
  batchSize: number;
}

/**
 * The server's per-request cap when it refused a request for carrying too many ids ("ids may name at most N flows
 * per request"), so the CLI can split the rest to fit a server configured lower than `--batch-size`.
 */
export function serverCap(userErrors: readonly UserErrorShape[]): number | undefined {
  for (const e of userErrors) {
    if (e.code !== 'INVALID_INPUT' || e.field?.join('.') !== 'input.ids') continue;
    const match = /at most (\d+)/.exec(e.message);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/**
 * The idempotency key of request `index` (0-based) of `count`: the operator's key itself for a single request, else
 * `<key>.<n>` — the server refuses one key for two different id lists, and a re-run of the same file then replays
 * each request's task instead of starting new ones.
 */
export function requestKey(key: string | undefined, index: number, count: number): string | undefined {
  if (key === undefined) return undefined;
  return count === 1 ? key : `${key}.${index + 1}`;
}

/** userErrors as lines; an error about one id names the line of the file it came from. */
export function describeUserErrors(errors: readonly UserErrorShape[], entries: readonly IdEntry[]): string {
  return errors
    .map((e) => {
      const field = e.field ?? [];
      if (field[0] === 'input' && field[1] === 'ids' && field[2] !== undefined) {
        const entry = entries[Number(field[2])];
        if (entry) return `${e.code}: line ${entry.line}: ${e.message}`;
      }
      return `${e.code}${field.length ? ` (${field.join('.')})` : ''}: ${e.message}`;
    })
    .join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * `cancel --file`: read and check every id, send them in requests of at most `batchSize`, one after another, follow
 * each task over `cancelTaskProgress` to its end, then write every flow not cancelled to the failed-items CSV.
 */
export async function cancelCommand(api: ApiClient, options: CancelOptions, io: Io): Promise<ExitCode> {
  let text: string;
  try {
    text = fs.readFileSync(options.file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --file ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let entries: IdEntry[];
  try {
    const parsed = parseIdFile(text);
    entries = parsed.entries;
    for (const d of parsed.duplicates.slice(0, 10)) io.stderr.write(`line ${d.line}: ${d.id} repeats line ${d.firstLine}; sent once\n`);
    if (parsed.duplicates.length > 10) io.stderr.write(`… and ${parsed.duplicates.length - 10} more repeated ids, each sent once\n`);
  } catch (error) {
    if (error instanceof InputError) throw new CliError(`--file ${options.file}: ${error.message}`);
    throw error;
  }
  if (entries.length === 0) throw new CliError(`--file ${options.file} names no flow ids (one a line, or a CSV with an id column)`);
  const failedOut = options.failedOut ?? `${options.file}.failed.csv`;

  const ws = api.ws({ retryAttempts: 5 });
  const tasks: string[] = [];
  const outcomes: Outcome[] = [];
  const tty = Boolean((io.stderr as NodeJS.WriteStream).isTTY);
  const bar = new SingleBar({
    stream: io.stderr,
    format: 'cancelling {bar} {value}/{total} | cancelled {succeeded} | failed {failed} | {task}',
    barsize: 30,
    hideCursor: true,
  });
  const interrupted = () => {
    bar.stop();
    io.stderr.write(`\ninterrupted: the server goes on with ${tasks.length ? `task ${tasks.join(', ')}` : 'nothing yet'}${tasks.length ? ' (query cancelTask(id: …) to follow it)' : ''}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    bar.start(entries.length, 0, { succeeded: 0, failed: 0, task: '' });
    let batches = chunk(entries, options.batchSize);
    let done = 0;
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      const payload = await api.request<CancelSignFlowsData>(CANCEL_SIGN_FLOWS, {
        input: {
          ids: batch.map((e) => e.id),
          reason: options.reason,
          cancelMessageFormat: options.cancelMessageFormat,
          etcMemberNo: options.etcMemberNo,
          idempotencyKey: requestKey(options.idempotencyKey, i, batches.length),
        },
      });
      const { task, userErrors } = payload.cancelSignFlows;
      if (userErrors.length > 0) {
        const cap = serverCap(userErrors);
        if (cap !== undefined && cap > 0 && cap < batch.length) {
          if (!tty) io.stderr.write(`the API takes at most ${cap} ids per request; splitting the rest\n`);
          batches = [...batches.slice(0, i), ...chunk(entries.slice(done), cap)];
          i--;
          continue;
        }
        const sent = tasks.length ? ` (already started: task ${tasks.join(', ')})` : '';
        throw new CliError(`the API refused the request${batches.length > 1 ? ` for ids ${done + 1}–${done + batch.length}` : ''}${sent}:\n${describeUserErrors(userErrors, batch)}`);
      }
      if (!task) throw new CliError('the API answered cancelSignFlows with neither a task nor userErrors');
      tasks.push(task.id);
      if (!tty) io.stderr.write(`task ${task.id}: ${plural(batch.length, 'flow')} submitted\n`);

      const before = tally(outcomes);
      const show = (t: TaskSummary) =>
        bar.update(done + t.succeeded + t.failed, { succeeded: before.succeeded + t.succeeded, failed: before.failed + t.failed, task: `${t.id} ${t.state}` });
      show(task);
      await follow(api, ws, task.id, show);

      const final = await readItems(api, task.id);
      for (const item of final.items) outcomes.push({ id: item.flow.id, ok: item.ok, code: item.code, reason: item.reason });
      show(final);
      done += batch.length;
      if (!tty) {
        const t = tally(final.items);
        io.stderr.write(`task ${final.id}: ${final.state} (${t.succeeded} cancelled, ${t.failed} failed${t.unknown ? `, ${t.unknown} unknown` : ''})\n`);
      }
    }
  } finally {
    bar.stop();
    process.removeListener('SIGINT', interrupted);
    await ws.client.dispose();
  }

  const t = tally(outcomes);
  try {
    fs.writeFileSync(failedOut, failedCsv(outcomes));
  } catch (error) {
    throw new CliError(`cannot write the failed items to ${failedOut} (--failed-out): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  io.stdout.write(
    `cancelled ${t.succeeded} of ${plural(t.total, 'flow')}; ${t.failed} failed, ${t.unknown} unknown (${tasks.length === 1 ? 'task' : 'tasks'} ${tasks.join(', ')})\n` +
      `${t.failed + t.unknown === 0 ? 'no failed items' : `${plural(t.failed + t.unknown, 'flow')} not cancelled`}: ${failedOut}\n`,
  );
  return exitCodeFor(outcomes);
}

/** Follows one task's progress over graphql-ws until the server completes the subscription (the task finished). */
function follow(api: ApiClient, ws: ReturnType<ApiClient['ws']>, taskId: string, onProgress: (task: TaskSummary) => void): Promise<void> {
  const goesOn = `; the task goes on at the server: query cancelTask(id: "${taskId}")`;
  return new Promise((resolve, reject) => {
    ws.client.subscribe<{ cancelTaskProgress: TaskSummary }>(
      { query: CANCEL_TASK_PROGRESS, variables: { id: taskId } },
      {
        next: (message) => {
          if (message.errors?.length) reject(new CliError(`${describeSubscriptionError(message.errors, api.endpoint)}${goesOn}`));
          else if (message.data) onProgress(message.data.cancelTaskProgress);
        },
        error: (error) => reject(new CliError(`following task ${taskId}: ${describeSubscriptionError(error, api.endpoint, ws.lastSocketError())}${goesOn}`)),
        complete: () => resolve(),
      },
    );
  });
}

/** The finished task with every item, read in pages of CANCEL_TASK_PAGE. */
async function readItems(api: ApiClient, id: string): Promise<NonNullable<CancelTaskData['cancelTask']>> {
  let task: CancelTaskData['cancelTask'] | undefined;
  const items: NonNullable<CancelTaskData['cancelTask']>['items'] = [];
  do {
    const page = (await api.request<CancelTaskData>(CANCEL_TASK, { id, first: CANCEL_TASK_PAGE, offset: items.length })).cancelTask;
    if (!page) throw new CliError(`task ${id} vanished from the API before its items were read`);
    task = page;
    items.push(...page.items);
    if (page.items.length < CANCEL_TASK_PAGE) break;
  } while (items.length < task.total);
  return { ...task, items };
}
