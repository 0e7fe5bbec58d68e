import { GraphQLError, NoSchemaIntrospectionCustomRule, getNamedType, type ValidationRule } from 'graphql';

/**
 * Federation's own introspection: `_service { sdl }` answers the whole subgraph schema, directives included. With
 * introspection off it is refused like `__schema`; a router whose supergraph is composed from the committed
 * schema/subgraph.graphql never asks for it (a gateway that composes at run time needs INTROSPECTION=on).
 */
export const NoServiceSdlRule: ValidationRule = (context) => ({
  Field(node) {
    const parent = context.getParentType();
    if (node.name.value === '_service' && parent && getNamedType(parent) === context.getSchema().getQueryType()) {
      context.reportError(new GraphQLError('GraphQL introspection has been disabled, but the requested query contained the field "_service".', { nodes: node }));
    }
  },
});

/** The validation rules INTROSPECTION=off adds, the same over HTTP and the WebSocket. */
export function introspectionRules(introspection: boolean): ValidationRule[] {
  return introspection ? [] : [NoSchemaIntrospectionCustomRule, NoServiceSdlRule];
}
