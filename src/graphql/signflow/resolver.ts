import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { tenantFilter } from '../../auth/caller';
import { parseFlowId, type SignFlowStatus, type SignProvider } from '../../domain/model';
import type { Flow, StoredEvent } from '../../store/types';
import { decodeCursor, encodeCursor, pageSize, parseEventCursor, SignFlowStatusEnum, SignProviderEnum } from '../common';
import { etcMemberNo, tencentAgent } from '../acting';
import { requireId, requireIds } from '../ids';
import type { Context } from '../context';
import { assertCursorKept } from '../cursor';
import {
  CANCEL_MESSAGE_FORMAT_CODES,
  RevokeSignFlowInput,
  RevokeSignFlowPayload,
  SignFlow,
  SignFlowConnection,
  SignFlowEvent,
  SignFlowEventConnection,
} from './types';
import { Authenticated, RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';

export function toSignFlowEvent(event: StoredEvent): SignFlowEvent {
  return {
    id: String(event.id),
    flowId: event.subjectId,
    status: event.status as SignFlowStatus,
    providerStatus: event.providerStatus,
    source: event.source,
    occurredAt: event.occurredAt,
    receivedAt: event.receivedAt,
    actor: event.actor,
  };
}

@ArgsType()
class SignFlowsArgs {
  @Field(() => SignProviderEnum, { nullable: true })
  provider?: SignProvider | null;

  @Field(() => SignFlowStatusEnum, { nullable: true })
  status?: SignFlowStatus | null;

  @Field(() => Int, { nullable: true, defaultValue: 20, description: 'At most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

@ArgsType()
class SignFlowEventsArgs {
  @Field(() => [ID], { nullable: true, description: 'Only these flows; all flows when omitted.' })
  ids?: string[] | null;

  @Field(() => SignProviderEnum, { nullable: true })
  provider?: SignProvider | null;

  @Field(() => String, { nullable: true, description: 'An event id: replay every later event first, then continue live.' })
  after?: string | null;
}

@Resolver(() => SignFlow)
export class SignFlowResolver {
  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_READ)
  @Query(() => SignFlow, { nullable: true, description: 'Read-through: an id the store has not seen is fetched from its provider.' })
  async signFlow(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Flow | null> {
    return ctx.loaders.flows.load(requireId('SignFlow', 'id', id));
  }

  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_READ)
  @Query(() => SignFlowConnection, { description: 'Flows this API knows, oldest first.' })
  async signFlows(@Args() args: SignFlowsArgs, @Ctx() ctx: Context): Promise<SignFlowConnection> {
    const first = pageSize(args.first);
    const after = decodeCursor('flow', args.after);
    const rows = await ctx.services.store.flows.list({
      provider: args.provider ?? undefined,
      status: args.status ?? undefined,
      after,
      first: first + 1,
      tenant: tenantFilter(ctx.caller),
    });
    const page = rows.slice(0, first);
    for (const flow of page) ctx.loaders.flows.prime(flow.id, flow);
    const edges = page.map((node) => ({ cursor: encodeCursor('flow', node.seq), node }));
    return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  @RequiresScopes(SCOPES.FLOWS_READ)
  @FieldResolver(() => SignFlowEventConnection, { description: "The flow's status events, oldest first." })
  async events(
    @Root() flow: Flow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) firstArg: number,
    @Arg('after', () => String, { nullable: true }) afterArg?: string | null,
  ): Promise<SignFlowEventConnection> {
    const first = pageSize(firstArg);
    const cursor = parseEventCursor(afterArg);
    if (cursor !== undefined) await assertCursorKept(ctx.services.store, cursor);
    const after = cursor ?? 0;
    // Batched: every flow of the operation asking for the same page is read in one store query.
    const rows = await ctx.loaders.flowEvents.load({ flowId: flow.id, after, limit: first + 1 });
    const edges = rows.slice(0, first).map((e) => ({ cursor: String(e.id), node: toSignFlowEvent(e) }));
    return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_WRITE)
  @Mutation(() => RevokeSignFlowPayload, { description: 'Revoke an unfinished flow at its provider. A flow that cannot be revoked is a userError.' })
  async revokeSignFlow(@Arg('input') input: RevokeSignFlowInput, @Ctx() ctx: Context): Promise<{ signFlow: Flow | null; userErrors: RevokeSignFlowPayload['userErrors'] }> {
    const provider = parseFlowId(input.id)?.provider;
    const result = await ctx.services.flows.revoke(
      {
        ...input,
        etcMemberNo: provider === 'ETC' ? etcMemberNo(ctx, input.etcMemberNo, true) : input.etcMemberNo,
        tencentAgent: provider === 'TENCENT_ESS' ? tencentAgent(ctx) : undefined,
        cancelMessageFormat: input.cancelMessageFormat ? CANCEL_MESSAGE_FORMAT_CODES[input.cancelMessageFormat] : null,
      },
      ctx.loaders.flows,
      ctx.caller,
    );
    ctx.loaders.flows.clearAll();
    ctx.loaders.flowEvents.clearAll();
    return {
      signFlow: result.signFlowId ? await ctx.loaders.flows.load(result.signFlowId) : null,
      userErrors: result.userErrors,
    };
  }

  @Authenticated()
  @RequiresScopes(SCOPES.EVENTS_READ, SCOPES.FLOWS_READ)
  @Subscription(() => SignFlowEvent, {
    description: 'Every status event of the matching flows. With after, first replays what was missed since that cursor.',
    subscribe: async ({ args, context }) => {
      const ctx = context as Context;
      const a = args as SignFlowEventsArgs;
      const subjectIds = requireIds('SignFlow', 'ids', a.ids) ?? undefined;
      const after = parseEventCursor(a.after);
      await assertCursorKept(ctx.services.store, after);
      return ctx.services.feed.subscribe(
        { kinds: ['signflow'], subjectIds, provider: a.provider ?? undefined, tenant: tenantFilter(ctx.caller) },
        after,
      );
    },
  })
  signFlowEvents(@Root() event: StoredEvent, @Args() _args: SignFlowEventsArgs, @Ctx() ctx: Context): SignFlowEvent {
    // A subscription keeps one context for its whole life; each event must see the flow as it is now.
    ctx.loaders.flows.clearAll();
    ctx.loaders.flowEvents.clearAll();
    return toSignFlowEvent(event);
  }
}

@Resolver(() => SignFlowEvent)
export class SignFlowEventResolver {
  @FieldResolver(() => SignFlow)
  async flow(@Root() event: SignFlowEvent, @Ctx() ctx: Context): Promise<Flow> {
    const flow = await ctx.loaders.flows.load(event.flowId);
    if (!flow) throw new Error(`event ${event.id} refers to an unknown flow ${event.flowId}`);
    return flow;
  }
}

/** Federation: other subgraphs reference a SignFlow by either key. */
export async function resolveSignFlowReference(
  reference: { id?: string; provider?: SignProvider; providerFlowId?: string },
  ctx: Context,
): Promise<Flow | null> {
  const id = reference.id ?? (reference.provider && reference.providerFlowId ? `${reference.provider}:${reference.providerFlowId}` : undefined);
  return id ? ctx.loaders.flows.load(requireId('SignFlow', 'representations.id', id)) : null;
}
