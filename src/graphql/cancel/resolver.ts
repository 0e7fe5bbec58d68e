import { GraphQLError } from 'graphql';
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { isFinished } from '../../lifecycle/cancel';
import type { CancelTask as StoredTask } from '../../store/cancel-tasks';
import type { Flow } from '../../store/types';
import { etcMemberNo, tencentAgent } from '../acting';
import type { Context } from '../context';
import { CANCEL_MESSAGE_FORMAT_CODES } from '../signflow/types';
import { CancelItem, CancelSignFlowsInput, CancelSignFlowsPayload, CancelTask } from './types';
import { Authenticated, RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';
import { requireId } from '../ids';

@ArgsType()
class CancelTaskProgressArgs {
  @Field(() => ID)
  id!: string;
}

/** A flow the store has never read (a flow id Tencent did not know): what the item itself says about it. */
function unreadFlow(item: { flowId: string; provider: Flow['provider']; providerFlowId: string; updatedAt: Date }, tenant: string | null): Flow {
  return {
    seq: 0,
    id: item.flowId,
    provider: item.provider,
    providerFlowId: item.providerFlowId,
    status: 'UNKNOWN',
    providerStatus: null,
    fileUrl: null,
    endedAt: null,
    createdAt: item.updatedAt,
    updatedAt: item.updatedAt,
    data: null,
    tenant,
  };
}

function notFound(id: string): GraphQLError {
  return new GraphQLError(`no cancel task ${JSON.stringify(id)}`, { extensions: { code: 'BAD_USER_INPUT', argumentName: 'id' } });
}

/**
 * The task, then every change to it until it finishes, then complete. Snapshots are read from the store on each
 * event, so a subscriber that falls behind sees the latest counts rather than every step. The cursor is taken before
 * the first read: nothing committed after that read can be missed. An unknown id is refused before the stream opens.
 */
async function progress(ctx: Context, id: string): Promise<AsyncGenerator<StoredTask, void, undefined>> {
  const cursor = await ctx.services.store.events.latestId();
  const first = await ctx.loaders.cancelTasks.load(id);
  if (!first) throw notFound(id);
  return (async function* stream() {
    yield first;
    if (isFinished(first)) return;
    let last = first;
    for await (const _event of ctx.services.feed.subscribe({ kinds: ['canceltask'], subjectIds: [id] }, cursor)) {
      const task = await ctx.services.cancels.get(id);
      if (!task) return;
      if (task.state !== last.state || task.succeeded !== last.succeeded || task.failed !== last.failed) {
        last = task;
        yield task;
      }
      if (isFinished(task)) return;
    }
  })();
}

@Resolver(() => CancelTask)
export class CancelTaskResolver {
  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_READ)
  @Query(() => CancelTask, { nullable: true, description: 'A cancelSignFlows task; null when there is none with this id.' })
  async cancelTask(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<StoredTask | null> {
    return ctx.loaders.cancelTasks.load(requireId('CancelTask', 'id', id));
  }

  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_WRITE)
  @Mutation(() => CancelSignFlowsPayload, {
    description:
      'Cancel any number of unfinished flows at their providers. Answers at once with the task (usually PROCESSING); bad input is a userError and starts nothing.',
  })
  async cancelSignFlows(@Arg('input') input: CancelSignFlowsInput, @Ctx() ctx: Context): Promise<{ task: StoredTask | null; userErrors: CancelSignFlowsPayload['userErrors'] }> {
    const hasEtc = input.ids.some((id) => id.startsWith('ETC:'));
    const result = await ctx.services.cancels.cancel(
      {
        ...input,
        // Without a member, ETC items fail ETC_MEMBER_NO_REQUIRED (the rest still run): only a value given or in the
        // token is checked here.
        etcMemberNo: hasEtc ? etcMemberNo(ctx, input.etcMemberNo, false) : input.etcMemberNo,
        tencentAgent: input.ids.some((id) => id.startsWith('TENCENT_ESS:')) ? tencentAgent(ctx) : undefined,
        cancelMessageFormat: input.cancelMessageFormat ? CANCEL_MESSAGE_FORMAT_CODES[input.cancelMessageFormat] : null,
      },
      ctx.caller,
    );
    return { task: result.taskId ? ((await ctx.services.cancels.get(result.taskId)) ?? null) : null, userErrors: result.userErrors };
  }

  @FieldResolver(() => [CancelItem], { description: 'One per requested flow, in input order.' })
  async items(@Root() task: StoredTask, @Ctx() ctx: Context): Promise<CancelItem[]> {
    // Batched across every task in the operation (a list of tasks, or `_entities`): one items query, and the flows
    // from the store only — a task may name thousands of flows, which are never read through from here.
    const items = await ctx.loaders.cancelItems.load(task.id);
    const flows = await ctx.loaders.storedFlows.loadMany(items.map((item) => item.flowId));
    return items.map((item, i) => {
      const flow = flows[i];
      if (flow instanceof Error) throw flow;
      return { flow: flow ?? unreadFlow(item, task.tenant), ok: item.settled ? item.ok : null, code: item.code, reason: item.reason };
    });
  }

  @Authenticated()
  @RequiresScopes(SCOPES.EVENTS_READ, SCOPES.FLOWS_READ)
  @Subscription(() => CancelTask, {
    description: 'The task now, then each time its counts or state change, until it finishes (then the subscription completes).',
    subscribe: ({ args, context }) => progress(context as Context, requireId('CancelTask', 'id', (args as CancelTaskProgressArgs).id)),
  })
  cancelTaskProgress(@Root() task: StoredTask, @Args() _args: CancelTaskProgressArgs): StoredTask {
    return task;
  }
}

/** Federation: other subgraphs reference a CancelTask by id. */
export async function resolveCancelTaskReference(reference: { id?: string }, ctx: Context): Promise<StoredTask | null> {
  return reference.id ? ctx.loaders.cancelTasks.load(requireId('CancelTask', 'representations.id', reference.id)) : null;
}
