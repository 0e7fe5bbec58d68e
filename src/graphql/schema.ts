import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { createPubSub } from '@graphql-yoga/subscription';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema, createResolversMap, type NonEmptyArray } from 'type-graphql';
import { enforceAccessRules } from '../auth/access';
import { AutoDebitEventResolver, AutoDebitResolver, resolveAutoDebitReference } from './autodebit/resolver';
import { CancelTaskResolver, resolveCancelTaskReference } from './cancel/resolver';
import type { Context } from './context';
import { resolveRescissionReference, RescissionResolver, SignFlowRescissionsResolver } from './rescission/resolver';
import { DateTimeScalar } from './scalars';
import { resolveSignFlowReference, SignFlowEventResolver, SignFlowResolver } from './signflow/resolver';

/** Every feature's resolvers; a feature folder adds its own here. */
// eslint-disable-next-line @typescript-eslint/ban-types
const RESOLVERS: NonEmptyArray<Function> = [SignFlowResolver, SignFlowEventResolver, AutoDebitResolver, AutoDebitEventResolver, RescissionResolver, SignFlowRescissionsResolver, CancelTaskResolver];

/** `__resolveReference` per entity, for the router's `_entities` queries. */
const REFERENCE_RESOLVERS = {
  SignFlow: { __resolveReference: (ref: Parameters<typeof resolveSignFlowReference>[0], ctx: Context) => resolveSignFlowReference(ref, ctx) },
  AutoDebit: { __resolveReference: (ref: { id?: string }, ctx: Context) => resolveAutoDebitReference(ref, ctx) },
  Rescission: { __resolveReference: (ref: { id?: string }, ctx: Context) => resolveRescissionReference(ref, ctx) },
  CancelTask: { __resolveReference: (ref: { id?: string }, ctx: Context) => resolveCancelTaskReference(ref, ctx) },
};

export const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@authenticated", "@requiresScopes"])';

/**
 * type-graphql builds the code-first schema; its printed SDL (with the @key directives) plus its resolvers go
 * through @apollo/subgraph, which adds `_service`, `_entities` and `_Entity`.
 */
export async function buildFederatedSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: RESOLVERS,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
    skipCheck: true,
    // Required by type-graphql whenever a schema has subscriptions. Ours bring their own `subscribe` (the event
    // feed, which replays from the log); the real wake-up pub/sub lives in events/notifier.ts.
    pubSub: createPubSub(),
  });
  const resolvers = createResolversMap(schema) as Record<string, Record<string, unknown>>;
  for (const [type, extra] of Object.entries(REFERENCE_RESOLVERS)) resolvers[type] = { ...resolvers[type], ...extra };
  const typeDefs = parse(`${FEDERATION_LINK}\n\n${printSchemaWithDirectives(schema)}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the resolver map's shape is checked by buildSubgraphSchema
  return enforceAccessRules(buildSubgraphSchema([{ typeDefs, resolvers: resolvers as any }]));
}
