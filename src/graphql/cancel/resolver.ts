import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { UserErrorCode } from '../../domain/model';
import { selectsPath, totalOverOperation } from '../limits';
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

/** Items whose flows' events one operation may ask for (the largest page of a connection). */
const EVENTS_PAGE_MAX = 100;

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
  async cancelSignFlows(
    @Arg('input') input: CancelSignFlowsInput,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<{ task: StoredTask | null; userErrors: CancelSignFlowsPayload['userErrors'] }> {
    // The bound on ids holds per operation: aliased cancelSignFlows fields share it, and all are refused together.
    const total = totalOverOperation(info, (args) => ((args.input as { ids?: unknown[] } | undefined)?.ids ?? []).length);
    const fields = totalOverOperation(info, () => 1);
    if (fields > 1 && total > ctx.services.cancels.maxIds) {
      return {
        task: null,
        userErrors: [
          {
            code: UserErrorCode.INVALID_INPUT,
            field: ['input', 'ids'],
            message: `this operation names ${total} ids across its ${fields} cancelSignFlows fields; at most ${ctx.services.cancels.maxIds} per operation: send them in separate requests`,
          },
        ],
      };
    }
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

  @FieldResolver(() => [CancelItem], {
    description: `One per requested flow, in input order; with first, at most that many from offset. Selecting flow.events needs first (at most ${EVENTS_PAGE_MAX}) once a task has more items than that.`,
  })
  async items(
    @Root() task: StoredTask,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, description: 'At most this many items (0 to 20,000); all when omitted.' }) first?: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0, description: 'Items to skip first (their positions are 0…total-1).' }) offset?: number | null,
  ): Promise<CancelItem[]> {
    if (first !== null && first !== undefined && (!Number.isInteger(first) || first < 0 || first > 20_000)) {
      throw new GraphQLError('first must be between 0 and 20000', { extensions: { code: 'BAD_USER_INPUT', argumentName: 'first' } });
    }
    const skip = offset ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new GraphQLError('offset must be 0 or more', { extensions: { code: 'BAD_USER_INPUT', argumentName: 'offset' } });
    const count = Math.max(0, Math.min(first ?? task.total, task.total - skip));
    // Each item's flow events are a page of their own: a 20,000-item task with them is millions of fields (a minute
    // of CPU with the event loop blocked). Beyond a page of items they must be asked for page by page.
    if (count > EVENTS_PAGE_MAX && selectsPath(info, ['flow', 'events'])) {
      throw new GraphQLError(
        `this task has ${task.total} items: selecting flow.events for more than ${EVENTS_PAGE_MAX} of them in one operation is refused; page with items(first: ${EVENTS_PAGE_MAX}, offset: …)`,
        { extensions: { code: 'OPERATION_TOO_COSTLY' } },
      );
    }
    // Batched across every task in the operation (a list of tasks, or `_entities`): one items query, and the flows
    // from the store only — a task may name thousands of flows, which are never read through from here.
    const items =
      first === null || first === undefined
        ? (await ctx.loaders.cancelItems.load(task.id)).slice(skip)
        : await ctx.services.store.cancelTasks.items(task.id, { offset: skip, limit: first });
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
