import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { AutoDebitStatus } from '../../domain/autodebit';
import type { AutoDebit as StoredAutoDebit } from '../../store/auto-debits';
import type { StoredEvent } from '../../store/types';
import { parseEventCursor, type UserError } from '../common';
import { tenantFilter } from '../../auth/caller';
import { yuansferMerchant } from '../acting';
import type { Context } from '../context';
import { assertCursorKept } from '../cursor';
import { AutoDebit, AutoDebitEvent, RevokeAutoDebitInput, RevokeAutoDebitPayload, StartAutoDebitInput, StartAutoDebitPayload } from './types';
import { Authenticated, RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';
import { requireId, requireIds } from '../ids';

export function toAutoDebitEvent(event: StoredEvent): AutoDebitEvent {
  return {
    id: String(event.id),
    autoDebitId: event.subjectId,
    status: event.status as AutoDebitStatus,
    source: event.source,
    occurredAt: event.occurredAt,
    receivedAt: event.receivedAt,
    actor: event.actor,
  };
}

@ArgsType()
class AutoDebitEventsArgs {
  @Field(() => [ID], { nullable: true, description: 'Only these authorizations (YUANSFER:<autoDebitNo>); all when omitted.' })
  ids?: string[] | null;

  @Field(() => String, { nullable: true, description: 'An event id: replay every later event first, then continue live.' })
  after?: string | null;
}

@Resolver(() => AutoDebit)
export class AutoDebitResolver {
  @Authenticated()
  @RequiresScopes(SCOPES.AUTODEBITS_READ)
  @Query(() => AutoDebit, { nullable: true, description: 'An authorization this API knows (Yuansfer offers no query to read one through).' })
  async autoDebit(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<StoredAutoDebit | null> {
    return ctx.loaders.autoDebits.load(requireId('AutoDebit', 'id', id));
  }

  @Authenticated()
  @RequiresScopes(SCOPES.AUTODEBITS_WRITE)
  @Mutation(() => StartAutoDebitPayload, { description: 'Start an auto-debit authorization (Yuansfer consult): send the payer to authUrl; the authorization turns ACTIVE once they agree.' })
  async startAutoDebit(
    @Arg('input') input: StartAutoDebitInput,
    @Ctx() ctx: Context,
  ): Promise<{ autoDebit: StoredAutoDebit | null; authUrl: string | null; userErrors: UserError[] }> {
    const result = await ctx.services.autoDebits.start({ ...input, ...yuansferMerchant(ctx, input) }, ctx.caller);
    return {
      autoDebit: result.autoDebitId ? await ctx.loaders.autoDebits.clear(result.autoDebitId).load(result.autoDebitId) : null,
      authUrl: result.authUrl,
      userErrors: result.userErrors,
    };
  }

  @Authenticated()
  @RequiresScopes(SCOPES.AUTODEBITS_WRITE)
  @Mutation(() => RevokeAutoDebitPayload, { description: 'Revoke an authorization at Yuansfer. An unknown or already revoked one is a userError.' })
  async revokeAutoDebit(@Arg('input') input: RevokeAutoDebitInput, @Ctx() ctx: Context): Promise<{ autoDebit: StoredAutoDebit | null; userErrors: UserError[] }> {
    const result = await ctx.services.autoDebits.revoke({ ...input, ...yuansferMerchant(ctx, input) }, ctx.caller);
    return {
      autoDebit: result.autoDebitId ? await ctx.loaders.autoDebits.clear(result.autoDebitId).load(result.autoDebitId) : null,
      userErrors: result.userErrors,
    };
  }

  @Authenticated()
  @RequiresScopes(SCOPES.EVENTS_READ, SCOPES.AUTODEBITS_READ)
  @Subscription(() => AutoDebitEvent, {
    description: 'Every status event of the matching authorizations. With after, first replays what was missed since that cursor.',
    subscribe: async ({ args, context }) => {
      const ctx = context as Context;
      const a = args as AutoDebitEventsArgs;
      const subjectIds = requireIds('AutoDebit', 'ids', a.ids) ?? undefined;
      const after = parseEventCursor(a.after);
      await assertCursorKept(ctx.services.store, after);
      return ctx.services.feed.subscribe({ kinds: ['autodebit'], subjectIds, tenant: tenantFilter(ctx.caller) }, after);
    },
  })
  autoDebitEvents(@Root() event: StoredEvent, @Args() _args: AutoDebitEventsArgs): AutoDebitEvent {
    return toAutoDebitEvent(event);
  }
}

@Resolver(() => AutoDebitEvent)
export class AutoDebitEventResolver {
  @FieldResolver(() => AutoDebit)
  async autoDebit(@Root() event: AutoDebitEvent, @Ctx() ctx: Context): Promise<StoredAutoDebit> {
    // A subscription keeps one context (and loader) for all its events: without the clear, the second event of
    // an authorization would show the row as the first one found it.
    const autoDebit = await ctx.loaders.autoDebits.clear(event.autoDebitId).load(event.autoDebitId);
    if (!autoDebit) throw new Error(`event ${event.id} refers to an unknown authorization ${event.autoDebitId}`);
    return autoDebit;
  }
}

/** Federation: other subgraphs reference an AutoDebit by id. */
export async function resolveAutoDebitReference(reference: { id?: string }, ctx: Context): Promise<StoredAutoDebit | null> {
  return reference.id ? ctx.loaders.autoDebits.load(requireId('AutoDebit', 'representations.id', reference.id)) : null;
}
