import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  GraphQLError,
  Kind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values';
import type { LimitsConfig } from '../config';

/** `extensions.limit` of a refused operation: the variable that sets the limit it went over. */
type LimitName = 'GRAPHQL_MAX_DEPTH' | 'GRAPHQL_MAX_ALIASES' | 'GRAPHQL_MAX_TOKENS' | 'GRAPHQL_MAX_COST';

function refusal(limit: LimitName, message: string, code = 'GRAPHQL_VALIDATION_FAILED'): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit } });
}

/**
 * GraphQL Armor's rules report by throwing "Syntax Error: …"; instead each is told not to throw, and its refusal is
 * reported as an ordinary validation error that names the limit, the variable that sets it and what was found.
 */
function reporter(limit: LimitName, what: string, max: number) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const found = /found (\d+(?:\.\d+)?)/.exec(error.message)?.[1];
    const message = `The operation is refused before running: its ${what} is ${found ?? 'over the limit'}, over the limit of ${max} (${limit}).`;
    context?.reportError(refusal(limit, message));
  };
}

/**
 * The standard introspection query (`__schema { … }` with its usual fragments) nests about 13 levels and costs more
 * than most operations; it is exempt from the depth and cost limits (Armor skips a `__schema` field), never from
 * the token and alias limits.
 */
export function limitRules(limits: LimitsConfig): ValidationRule[] {
  return [
    maxDepthRule({
      n: limits.maxDepth,
      ignoreIntrospection: true,
      // A fragment spread is not a level of the response: count the fields it brings in at the spread's depth.
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reporter('GRAPHQL_MAX_DEPTH', 'depth', limits.maxDepth)],
    }),
    maxAliasesRule({ n: limits.maxAliases, propagateOnRejection: false, onReject: [reporter('GRAPHQL_MAX_ALIASES', 'number of aliases', limits.maxAliases)] }),
    costLimitRule({
      maxCost: limits.maxCost,
      ignoreIntrospection: true,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reporter('GRAPHQL_MAX_COST', 'estimated cost', limits.maxCost)],
    }),
  ];
}

/** Parse options that stop a document of more than `GRAPHQL_MAX_TOKENS` tokens while it is being read. */
export function parseOptions(limits: LimitsConfig): { maxTokens: number } {
  return { maxTokens: limits.maxTokens };
}

/**
 * Parses and validates a document the way the HTTP path does (graphql-js rules, then the limits): for transports
 * that bypass Apollo Server (graphql-ws). Errors carry `extensions.code` like Apollo's.
 */
export function parseAndValidate(
  schema: GraphQLSchema,
  query: unknown,
  limits: LimitsConfig,
  extraRules: readonly ValidationRule[] = [],
): { document: DocumentNode } | { errors: GraphQLError[] } {
  if (typeof query !== 'string' || query.trim() === '') {
    return { errors: [new GraphQLError('The subscribe message must carry a GraphQL document in `query`', { extensions: { code: 'BAD_REQUEST' } })] };
  }
  let document: DocumentNode;
  try {
    document = parse(query, parseOptions(limits));
  } catch (error) {
    const message = (error as Error).message;
    if (/more tha[nt] \d+ tokens/.test(message)) {
      return { errors: [refusal('GRAPHQL_MAX_TOKENS', `The operation is refused before running: it has more than ${limits.maxTokens} tokens (GRAPHQL_MAX_TOKENS).`, 'GRAPHQL_PARSE_FAILED')] };
    }
    const syntax = error instanceof GraphQLError ? error : new GraphQLError(message);
    return { errors: [new GraphQLError(syntax.message, { nodes: syntax.nodes, source: syntax.source, positions: syntax.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] };
  }
  const errors = validate(schema, document, [...specifiedRules, ...limitRules(limits), ...extraRules]);
  if (errors.length > 0) {
    return {
      errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } })),
    };
  }
  return { document };
}

/** The root fields an operation selects, through inline fragments and fragment spreads. */
export function rootFields(operation: OperationDefinitionNode, fragments: Record<string, { selectionSet: SelectionSetNode }>) {
  const out: import('graphql').FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) out.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments[s.name.value];
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return out;
}

/**
 * Sums `count(arguments)` over every root field of the running operation named like the field being resolved
 * (aliases included): a per-request bound on a list argument then holds for the whole document, not per field.
 */
export function totalOverOperation(info: GraphQLResolveInfo, count: (args: Record<string, unknown>) => number): number {
  const definition = info.parentType.getFields()[info.fieldName];
  if (!definition) return 0;
  let total = 0;
  for (const node of rootFields(info.operation, info.fragments)) {
    if (node.name.value !== info.fieldName) continue;
    total += count(getArgumentValues(definition, node, info.variableValues));
  }
  return total;
}

/** Whether the field being resolved selects the nested path (`['flow', 'events']`), through fragments. */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  const within = (sets: readonly SelectionSetNode[], rest: readonly string[]): boolean => {
    if (rest.length === 0) return true;
    const next: SelectionSetNode[] = [];
    const visit = (set: SelectionSetNode) => {
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (s.name.value === rest[0] && (rest.length === 1 || s.selectionSet)) next.push(s.selectionSet ?? set);
        } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
        else {
          const fragment = info.fragments[s.name.value];
          if (fragment) visit(fragment.selectionSet);
        }
      }
    };
    sets.forEach(visit);
    return next.length > 0 && within(next, rest.slice(1));
  };
  return within(info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : [])), path);
}
