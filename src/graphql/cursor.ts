import { GraphQLError } from 'graphql';
import type { Store } from '../store/types';

/**
 * Refuses an event cursor that points into the part of the log retention deleted (`EVENT_RETENTION_DAYS`): reading
 * on from it would silently skip the pruned events, so the client is told with `CURSOR_EXPIRED` and the oldest cursor
 * that still works, and can re-read current state (`signFlow`, `signFlows`) before resuming from there. `0` names no
 * event ("from the beginning", a client that has seen nothing): it replays every event still kept.
 */
export async function assertCursorKept(store: Store, after: number | undefined): Promise<void> {
  if (after === undefined || after === 0) return;
  const pruned = await store.events.prunedThrough();
  if (after >= pruned) return;
  throw new GraphQLError(
    `after ${after} points at events deleted by the retention policy (every event up to ${pruned} is gone): ` +
      `read the current state again, then resume with after ${pruned} or later`,
    { extensions: { code: 'CURSOR_EXPIRED', argumentName: 'after', oldestAfter: String(pruned) } },
  );
}
