import { getOperationAST, GraphQLError, Kind, print, subscribe as graphqlSubscribe, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Caller } from '../auth/caller';

/** Results one member may have waiting; a member this far behind (a stalled socket) is ended with an error. */
const MAX_BUFFERED = 10_000;

type Subscribe = (args: ExecutionArgs) => Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> | AsyncGenerator<ExecutionResult> | ExecutionResult;

/**
 * Results handed to many subscribers, and their JSON once one of them has been sent it: a shared result is
 * serialized once per event, not once per subscriber.
 */
const sharedJson = new WeakMap<object, string | null>();
/** What a shared payload is written as by the message replacer, then swapped for its JSON by the socket. */
const PLACEHOLDER = '\u0000shared-payload\u0000';
const QUOTED_PLACEHOLDER = JSON.stringify(PLACEHOLDER);
/** The JSON of the shared payload in the message being serialized; graphql-ws sends it in the same tick. */
let pendingJson: string | undefined;

/**
 * graphql-ws `jsonMessageReplacer`: a `next` message whose payload is a shared result gets a placeholder instead
 * of the payload (see {@link expandSharedPayload}), so the payload itself is not walked again.
 */
export function sharedPayloadReplacer(key: string, value: unknown): unknown {
  if (key === 'payload' && typeof value === 'object' && value !== null && sharedJson.has(value)) {
    let json = sharedJson.get(value);
    if (json == null) {
      json = JSON.stringify(value);
      sharedJson.set(value, json);
    }
    pendingJson = json;
    return PLACEHOLDER;
  }
  return value;
}

/** The socket side of {@link sharedPayloadReplacer}: puts the shared payload's JSON where the placeholder is. */
export function expandSharedPayload(data: string): string {
  const json = pendingJson;
  if (json === undefined) return data;
  pendingJson = undefined;
  const at = data.lastIndexOf(QUOTED_PLACEHOLDER);
  return at < 0 ? data : data.slice(0, at) + json + data.slice(at + QUOTED_PLACEHOLDER.length);
}

/** One shared execution and the subscribers it feeds. */
interface Group {
  key: string;
  members: Set<Member>;
  /** The shared stream once subscribed; undefined while subscribing. */
  source?: AsyncGenerator<ExecutionResult>;
  started: Promise<AsyncGenerator<ExecutionResult> | ExecutionResult>;
}

interface Member {
  buffer: ExecutionResult[];
  wake?: () => void;
  ended: boolean;
}

export interface MultiplexOptions {
  /**
   * Root subscription fields that only stream what happens from now on (no initial snapshot): only operations made
   * of these can be shared, since a member joining later must not miss anything a subscription of its own would send.
   */
  liveFields: readonly string[];
  /** Arguments of these names make a subscription personal (a replay cursor): it is never shared. */
  personalArguments?: readonly string[];
  /** The caller a subscription runs as (from its context). */
  callerOf(contextValue: unknown): Caller | undefined;
}

/**
 * Subscriptions that would produce the same results share one execution: those with the same document, operation
 * name and variables, run by callers who see the same things (tenant, admin, scopes, parties). Each event is then
 * resolved once (its flow loaded once) and the same result object is handed to every member, in order; members
 * join a running execution and see events from then on, which is what a new subscription sees anyway.
 * Subscriptions with a replay cursor (`after`) start from their own point in the log and run alone. The shared
 * result is also serialized once ({@link sharedPayloadReplacer}).
 */
export class SubscriptionMultiplexer {
  private readonly groups = new Map<string, Group>();
  private readonly printed = new WeakMap<DocumentNode, string>();
  private readonly personal: readonly string[];

  constructor(
    private readonly options: MultiplexOptions,
    private readonly inner: Subscribe = graphqlSubscribe as Subscribe,
  ) {
    this.personal = options.personalArguments ?? ['after'];
  }

  /** Shared executions running now (metrics, tests). */
  get executions(): number {
    return this.groups.size;
  }

  /** Subscriptions served by the shared executions. */
  get members(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.members.size;
    return n;
  }

  subscribe: Subscribe = (args) => {
    const key = this.keyOf(args);
    if (key === undefined) return this.inner(args);
    let group = this.groups.get(key);
    if (!group) {
      const created: Group = { key, members: new Set(), started: Promise.resolve(this.inner(args)) };
      group = created;
      this.groups.set(key, created);
      created.started.then(
        (result) => {
          if (isAsyncIterable(result)) {
            created.source = result;
            void this.pump(created, result);
          } else if (this.groups.get(key) === created) {
            this.groups.delete(key);
          }
        },
        () => this.groups.get(key) === created && this.groups.delete(key),
      );
    }
    return this.join(group);
  };

  private async join(group: Group): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
    const member: Member = { buffer: [], ended: false };
    group.members.add(member);
    let result: AsyncGenerator<ExecutionResult> | ExecutionResult;
    try {
      result = await group.started;
    } catch (error) {
      group.members.delete(member);
      throw error;
    }
    // Subscribing failed (refused, invalid variables): every member gets the same errors, alone.
    if (!isAsyncIterable(result)) {
      group.members.delete(member);
      return result;
    }
    return this.stream(group, member);
  }

  private async pump(group: Group, source: AsyncGenerator<ExecutionResult>): Promise<void> {
    try {
      for await (const result of source) {
        sharedJson.set(result, null);
        for (const member of group.members) {
          if (member.buffer.length >= MAX_BUFFERED) {
            // Its events are all in the log: the client resubscribes with `after` and replays what it missed.
            group.members.delete(member);
            member.buffer.push({ errors: [new GraphQLError('this subscriber fell too far behind the event stream; subscribe again with `after` set to the last event id received')] });
            member.ended = true;
          } else {
            member.buffer.push(result);
          }
          member.wake?.();
        }
      }
    } finally {
      if (this.groups.get(group.key) === group) this.groups.delete(group.key);
      for (const member of group.members) {
        member.ended = true;
        member.wake?.();
      }
    }
  }

  private stream(group: Group, member: Member): AsyncGenerator<ExecutionResult> {
    const leave = () => {
      if (!group.members.delete(member)) return;
      member.ended = true;
      member.wake?.();
      if (group.members.size === 0) {
        if (this.groups.get(group.key) === group) this.groups.delete(group.key);
        void group.source?.return(undefined);
      }
    };
    const iterator: AsyncGenerator<ExecutionResult> = {
      next: async () => {
        for (;;) {
          const result = member.buffer.shift();
          if (result) return { done: false, value: result };
          if (member.ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (member.wake = resolve));
          member.wake = undefined;
        }
      },
      return: async () => {
        leave();
        return { done: true, value: undefined };
      },
      throw: async (error) => {
        leave();
        throw error;
      },
      [Symbol.asyncIterator]: () => iterator,
      [Symbol.asyncDispose]: async () => void leave(),
    } as AsyncGenerator<ExecutionResult>;
    return iterator;
  }

  /** Undefined when the subscription must run alone. */
  private keyOf(args: ExecutionArgs): string | undefined {
    const caller = this.options.callerOf(args.contextValue);
    if (!caller) return undefined;
    const operation = getOperationAST(args.document, args.operationName);
    if (!operation || operation.operation !== 'subscription') return undefined;
    const live = operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && this.options.liveFields.includes(s.name.value));
    if (!live) return undefined;
    const variables = args.variableValues ?? {};
    let text = this.printed.get(args.document);
    if (text === undefined) {
      text = print(args.document);
      this.printed.set(args.document, text);
    }
    // A replay cursor, inline or in a variable, makes the subscription start at its own point in the log.
    for (const name of this.personal) {
      if (new RegExp(`\\b${name}\\s*:`).test(text)) return undefined;
    }
    const who = {
      enforced: caller.enforced,
      authenticated: caller.authenticated,
      admin: caller.admin,
      tenant: caller.tenant,
      scopes: [...caller.scopes].sort(),
      parties: Object.entries(caller.parties).sort(([a], [b]) => a.localeCompare(b)),
    };
    return JSON.stringify([text, args.operationName ?? null, variables, who]);
  }
}

function isAsyncIterable(value: unknown): value is AsyncGenerator<ExecutionResult> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
}
