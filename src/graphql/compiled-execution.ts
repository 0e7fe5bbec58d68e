import type { GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface } from '@apollo/server-gateway-interface';
import { execute, GraphQLError, printSchema, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/**
 * graphql-jit's located errors are GraphQLErrors by prototype only: without `extensions` when the thrown error had
 * none, which Apollo's error formatting needs. Rebuilt as graphql-js builds them (same message, path, locations,
 * original error and extensions), so formatError sees exactly what it sees under graphql-js.
 */
function asGraphqlJsError(error: GraphQLError): GraphQLError {
  const made = new GraphQLError(error.message, { path: error.path, originalError: error.originalError ?? undefined, extensions: error.extensions ?? undefined });
  if (error.locations) (made as { locations?: unknown }).locations = error.locations;
  return made;
}

/** Distinct operations compiled per document; a document naming more is executed by graphql-js beyond these. */
const OPERATIONS_PER_DOCUMENT = 8;

/**
 * Compiled execution for Apollo Server, through the one seam it offers for replacing `execute`: the gateway
 * interface, whose executor receives each operation after Apollo has parsed, validated (our limit and introspection
 * rules included) and resolved it, and whose result Apollo formats and answers as usual.
 *
 * Each document (Apollo keeps one parsed `DocumentNode` per query text in its document store) is compiled once per
 * operation by graphql-jit into a function specialised to its selection set, so a repeated read skips graphql-js's
 * per-request walk of the document: field collection, argument and variable coercion and result completion by type
 * — the work the framework did on every request (docs/benchmarks.md, P1). Resolvers are the same functions (the
 * type-graphql ones, wrapped by the access rules), so behaviour is the same; a request whose variables do
 * not coerce is answered with graphql-js's exact messages, so it gets Apollo's 400 `BAD_USER_INPUT` as before.
 *
 * graphql-js executes what graphql-jit cannot compile, and everything when `standard` is set (with tracing on, so the
 * GraphQL instrumentation sees each operation).
 */
export function compiledExecution(schema: GraphQLSchema, observe?: { execution(engine: 'compiled' | 'graphql-js'): void }): GatewayInterface {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();

  const compile = (document: DocumentNode, operationName: string | null): CompiledQuery | null => {
    let byOperation = compiled.get(document);
    if (!byOperation) {
      byOperation = new Map();
      compiled.set(document, byOperation);
    }
    const key = operationName ?? '';
    let query = byOperation.get(key);
    if (query === undefined) {
      if (byOperation.size >= OPERATIONS_PER_DOCUMENT) return null;
      const made = compileQuery(schema, document, operationName ?? undefined, { disablingCapturingStackErrors: true });
      query = isCompiledQuery(made) ? made : null;
      byOperation.set(key, query);
    }
    return query;
  };

  const standard = (args: ExecutionArgs) => {
    observe?.execution('graphql-js');
    return execute(args);
  };

  const executor: GatewayExecutor = async (requestContext: GatewayGraphQLRequestContext) => {
    const { document, operation, operationName, context } = requestContext;
    const variables = requestContext.request.variables ?? {};
    // No such operation in the document: graphql-js answers the error Apollo turns into OPERATION_RESOLUTION_FAILURE.
    if (!operation) return standard({ schema, document, operationName: requestContext.request.operationName, contextValue: context, variableValues: variables });
    const query = compile(document, operationName);
    if (!query) return standard({ schema, document, operationName, contextValue: context, variableValues: variables });
    observe?.execution('compiled');
    // The raw variables: the compiled query coerces them itself, once.
    const result: ExecutionResult = await query.query(undefined, context, variables);
    if (result.data === undefined && result.errors) {
      // Variables that do not coerce (the compiled query answers errors and no data): graphql-js's own messages,
      // which Apollo recognises as BAD_USER_INPUT. Only on this path, so a good request coerces its variables once.
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
      if (coerced.errors) return { errors: coerced.errors };
    }
    return result.errors ? { ...result, errors: result.errors.map(asGraphqlJsError) } : result;
  };

  return {
    async load() {
      return { schema, executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async stop() {
      // nothing held
    },
  };
}
