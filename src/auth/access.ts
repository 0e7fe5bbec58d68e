import {
  defaultFieldResolver,
  getNamedType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { Directive } from 'type-graphql';
import { forbidden, unauthenticated, type Caller } from './caller';

/**
 * Access rules are declared once, as the federation directives `@authenticated` and `@requiresScopes` in the SDL a
 * router reads, and enforced here from those same declarations, so the subgraph is safe when reached directly and
 * can never disagree with what it tells the router.
 */

/** `@requiresScopes(scopes: [[…all of these…]])`: one set that must all be held. */
export const RequiresScopes = (...scopes: string[]) => Directive(`@requiresScopes(scopes: [[${scopes.map((s) => JSON.stringify(s)).join(', ')}]])`);
export const Authenticated = () => Directive('@authenticated');

/** What one directive demands: a token, and (for @requiresScopes) one of several sets of scopes held in full. */
interface Rule {
  scopeSets?: string[][];
}

function rulesOf(directives: readonly ConstDirectiveNode[] | undefined): Rule[] {
  const rules: Rule[] = [];
  for (const directive of directives ?? []) {
    if (directive.name.value === 'authenticated') rules.push({});
    if (directive.name.value === 'requiresScopes') {
      const arg = directive.arguments?.find((a) => a.name.value === 'scopes');
      const value = arg && arg.value.kind === Kind.LIST ? (valueFromASTUntyped(arg.value) as string[][]) : [];
      rules.push({ scopeSets: value });
    }
  }
  return rules;
}

function typeRules(type: GraphQLNamedType): Rule[] {
  return rulesOf(type.astNode?.directives);
}

/** Throws UNAUTHENTICATED or FORBIDDEN when the caller does not meet every rule. */
export function check(caller: Caller | undefined, rules: readonly Rule[], what: string): void {
  if (rules.length === 0) return;
  if (!caller) throw unauthenticated(`${what} needs a caller`);
  if (!caller.enforced) return;
  if (!caller.authenticated) throw unauthenticated(`${what} needs a bearer token (Authorization: Bearer <JWT>)`);
  for (const rule of rules) {
    if (!rule.scopeSets || rule.scopeSets.length === 0) continue;
    if (rule.scopeSets.some((set) => set.every((scope) => caller.scopes.has(scope)))) continue;
    const needed = rule.scopeSets.map((set) => set.join(' and ')).join(' or ');
    throw forbidden(`${what} needs the scope ${needed}`);
  }
}

interface WithCaller {
  caller?: Caller;
}

/**
 * Wraps, in place, every field whose own directives or whose returned type's directives demand something, and the
 * `__resolveReference` of every entity type that does (so `_entities` obeys the same rules as the root fields).
 * Subscriptions are checked when they start, before anything is registered. Fields with no rule are left untouched
 * and cost nothing.
 */
export function enforceAccessRules(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields()) as Array<GraphQLField<unknown, WithCaller>>) {
      const rules = [...rulesOf(field.astNode?.directives), ...typeRules(getNamedType(field.type))];
      if (rules.length === 0) continue;
      const what = `${type.name}.${field.name}`;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        check(context?.caller, rules, what);
        return resolve(source, args, context, info);
      };
      const subscribe = field.subscribe;
      if (subscribe) {
        field.subscribe = (source, args, context, info) => {
          check(context?.caller, rules, what);
          return subscribe(source, args, context, info);
        };
      }
    }
    const rules = typeRules(type);
    const subgraph = (type.extensions as { apollo?: { subgraph?: { resolveReference?: (ref: unknown, ctx: WithCaller, info: unknown) => unknown } } }).apollo?.subgraph;
    const resolveReference = subgraph?.resolveReference;
    if (rules.length > 0 && subgraph && resolveReference) {
      subgraph.resolveReference = (reference, context, info) => {
        check(context?.caller, rules, `_entities of ${type.name}`);
        return resolveReference(reference, context, info);
      };
    }
  }
  return schema;
}
