import type { SignProvider } from '../../domain/model';
import { CliError, describeSubscriptionError, isCloseEvent, isFatalClose, networkCause, unreachable, type ApiClient } from '../client';
import type { Io } from '../io';
import { SIGN_FLOW_EVENTS, type SignFlowEventShape } from '../operations';
import { EXIT, type ExitCode } from '../report';

export interface EventsOptions {
  after?: string;
  provider?: SignProvider;
  ids?: string[];
  json: boolean;
}

/** The server's cursor form (`SignFlowEvent.id`): checked here so a typo is not a reconnect loop. */
export function checkAfter(after: string | undefined): string | undefined {
  if (after === undefined) return undefined;
  if (!/^\d{1,15}$/.test(after)) throw new CliError(`--after must be an event id (digits) printed by an earlier run, got ${JSON.stringify(after.slice(0, 40))}`);
  return after;
}

/** One readable line: cursor, when the API received it, the flow, the status (provider's own code) and the source. */
export function formatEvent(e: SignFlowEventShape): string {
  return [e.id, e.receivedAt, e.flow.id, `${e.status}${e.providerStatus !== null ? ` (${e.providerStatus})` : ''}`, e.source].join('  ');
}

/** Wait before reconnect attempt `attempt` (0-based): 0.25 s doubling to 10 s, so a restart is caught quickly. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(250 * 2 ** attempt, 10_000);
}

/**
 * `events`: tails `signFlowEvents`. When the socket drops after a successful start it reconnects, forever, with
 * `after` = the last event id printed, so nothing is missed or printed twice; Ctrl-C prints that id and exits 0. A
 * refusal (GraphQL errors, an unauthorized socket) or an API that cannot be reached at start is exit 1.
 */
export function eventsCommand(api: ApiClient, options: EventsOptions, io: Io): Promise<ExitCode> {
  return new Promise<ExitCode>((resolve, reject) => {
    let last = checkAfter(options.after);
    let everConnected = false;
    let outage = false;
    let attempt = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: () => void = () => undefined;

    const ws = api.ws({
      retryAttempts: 0,
      on: {
        connected: () => {
          // Said once the API accepted the socket, so "listening" means it (the subscription follows at once).
          if (!everConnected) io.stderr.write(`listening for signFlowEvents at ${api.endpoint.wsUrl}${last !== undefined ? ` after event ${last}` : ''} (Ctrl-C to stop)\n`);
          if (outage) io.stderr.write(`reconnected; resuming after event ${last ?? '(none yet)'}\n`);
          everConnected = true;
          outage = false;
          attempt = 0;
        },
      },
    });

    const finish = (outcome: ExitCode | CliError) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      unsubscribe();
      void Promise.resolve(ws.client.dispose()).finally(() => (outcome instanceof CliError ? reject(outcome) : resolve(outcome)));
    };
    const stop = () => {
      io.stderr.write(last !== undefined ? `last event id: ${last} (resume with --after ${last})\n` : 'no events received\n');
      finish(EXIT.OK);
    };
    const reconnect = (why: string) => {
      if (!outage) {
        outage = true;
        io.stderr.write(`${why}; reconnecting to resume after event ${last ?? '(none yet)'}\n`);
      }
      timer = setTimeout(subscribe, reconnectDelayMs(attempt++));
    };

    function subscribe(): void {
      if (finished) return;
      unsubscribe = ws.client.subscribe<{ signFlowEvents: SignFlowEventShape }>(
        { query: SIGN_FLOW_EVENTS, variables: { after: last ?? null, provider: options.provider ?? null, ids: options.ids ?? null } },
        {
          next: (message) => {
            if (message.errors?.length) {
              finish(new CliError(describeSubscriptionError(message.errors, api.endpoint)));
              return;
            }
            const event = message.data?.signFlowEvents;
            if (!event) return;
            // Ids only grow: anything at or before the cursor is a replay (graphql-ws re-subscribes by itself after
            // a normal closure, with the variables of the first subscribe).
            if (last !== undefined && Number(event.id) <= Number(last)) return;
            last = event.id;
            io.stdout.write(`${options.json ? JSON.stringify(event) : formatEvent(event)}\n`);
          },
          error: (error) => {
            if (finished) return;
            if (Array.isArray(error) || (isCloseEvent(error) && isFatalClose(error.code))) {
              finish(new CliError(describeSubscriptionError(error, api.endpoint)));
            } else if (!everConnected) {
              const cause = ws.lastSocketError() ?? error;
              finish(unreachable(api.endpoint, networkCause(cause)));
            } else {
              reconnect(describeSubscriptionError(error, api.endpoint, ws.lastSocketError()));
            }
          },
          // The server never ends this subscription by itself; if it does (shutting down), pick up where it stopped.
          complete: () => {
            if (!finished) reconnect('the API ended the subscription');
          },
        },
      );
    }

    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    subscribe();
  });
}
