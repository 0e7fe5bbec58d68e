import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { Caller } from '../auth/caller';
import type { Logger } from '../logger';

/** What one mutation did, for the audit log. */
export interface AuditEntry {
  caller: Pick<Caller, 'sub' | 'tenant' | 'via' | 'key'>;
  operationName: string | null;
  /** The root fields run, e.g. revokeSignFlow. */
  fields: string[];
  /** `ok`, or the codes of the userErrors and GraphQL errors it answered. */
  outcome: string;
  transport: 'http' | 'ws' | 'sse';
}

export function mutationOf(document: DocumentNode | undefined, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  const operations = (document?.definitions ?? []).filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  return operation?.operation === 'mutation' ? operation : undefined;
}

/** `ok`, else the distinct error codes (GraphQL errors' extensions.code and payloads' userErrors[].code). */
export function outcomeOf(result: { data?: ExecutionResult['data']; errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }): string {
  const codes = new Set<string>();
  for (const error of result.errors ?? []) codes.add(String((error as { extensions?: { code?: unknown } }).extensions?.code ?? 'ERROR'));
  for (const payload of Object.values(result.data ?? {})) {
    const userErrors = (payload as { userErrors?: Array<{ code?: unknown }> } | null)?.userErrors;
    for (const e of userErrors ?? []) codes.add(String(e.code));
  }
  return codes.size === 0 ? 'ok' : [...codes].sort().join(',');
}

/** One `audit` log line per mutation, whatever its outcome: who, what, how it ended. Never the input values. */
export function logMutation(logger: Logger, entry: AuditEntry): void {
  logger.info(
    {
      audit: true,
      caller: entry.caller.sub,
      tenant: entry.caller.tenant,
      via: entry.caller.via,
      callerKey: entry.caller.sub === null ? entry.caller.key : undefined,
      operation: entry.operationName,
      fields: entry.fields,
      outcome: entry.outcome,
      transport: entry.transport,
    },
    'mutation',
  );
}

/** The Apollo Server side: mutations over HTTP (graphql-ws mutations are logged in websocket.ts). */
export function auditPlugin<T extends { caller?: Caller }>(logger: Logger): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ document, operationName, contextValue, response }) {
          const mutation = mutationOf(document, operationName);
          if (!mutation || response.body.kind !== 'single' || !contextValue.caller) return;
          logMutation(logger, {
            caller: contextValue.caller,
            operationName: operationName ?? mutation.name?.value ?? null,
            fields: mutation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : [])),
            outcome: outcomeOf(response.body.singleResult),
            transport: 'http',
          });
        },
      };
    },
  };
}
