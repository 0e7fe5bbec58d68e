import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Rescission as RescissionRow } from '../../store/rescissions';
import type { Flow } from '../../store/types';
import type { UserError } from '../common';
import { esignInitiator } from '../acting';
import type { Context } from '../context';
import { SignFlow } from '../signflow/types';
import { InitiateRescissionInput, InitiateRescissionPayload, Rescission } from './types';
import { Authenticated, RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';
import { requireId } from '../ids';

@Resolver(() => Rescission)
export class RescissionResolver {
  @Authenticated()
  @RequiresScopes(SCOPES.FLOWS_READ)
  @Query(() => Rescission, { nullable: true, description: 'A rescission this API initiated or heard of from e签宝.' })
  async rescission(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<RescissionRow | null> {
    return ctx.loaders.rescissions.load(requireId('Rescission', 'id', id));
  }

  @FieldResolver(() => SignFlow, { description: 'The original, completed flow whose files are rescinded.' })
  async signFlow(@Root() rescission: RescissionRow, @Ctx() ctx: Context): Promise<Flow> {
    const flow = await ctx.loaders.flows.load(rescission.signFlowId);
    if (!flow) throw new Error(`rescission ${rescission.id} refers to an unknown flow ${rescission.signFlowId}`);
    return flow;
  }

  @Authenticated()
  @RequiresScopes(SCOPES.RESCISSIONS_WRITE)
  @Mutation(() => InitiateRescissionPayload, {
    description:
      'Start the rescission of files of a COMPLETED e签宝 flow: e签宝 creates a rescission agreement for the parties to sign. Input problems and refusals are userErrors.',
  })
  async initiateRescission(
    @Arg('input') input: InitiateRescissionInput,
    @Ctx() ctx: Context,
  ): Promise<{ rescission: RescissionRow | null; userErrors: UserError[] }> {
    esignInitiator(ctx, input.initiator);
    const result = await ctx.services.rescissions.initiate(input, ctx.loaders.flows, ctx.caller);
    ctx.loaders.flows.clearAll();
    ctx.loaders.rescissions.clearAll();
    ctx.loaders.rescissionsByFlow.clearAll();
    return {
      rescission: result.rescissionId ? await ctx.loaders.rescissions.load(result.rescissionId) : null,
      userErrors: result.userErrors,
    };
  }
}

/** `SignFlow.rescissions`, kept in this folder: the sign-flow feature need not know about rescissions. */
@Resolver(() => SignFlow)
export class SignFlowRescissionsResolver {
  @FieldResolver(() => [Rescission], { description: "The flow's rescissions, oldest first (e签宝 flows only; empty for others)." })
  async rescissions(@Root() flow: Flow, @Ctx() ctx: Context): Promise<RescissionRow[]> {
    return ctx.loaders.rescissionsByFlow.load(flow.id);
  }
}

/** Federation: other subgraphs reference a Rescission by id. */
export async function resolveRescissionReference(reference: { id?: string }, ctx: Context): Promise<RescissionRow | null> {
  return reference.id ? ctx.loaders.rescissions.load(requireId('Rescission', 'representations.id', reference.id)) : null;
}
