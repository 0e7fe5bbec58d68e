import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ProviderError, type ProviderErrorKind } from '../providers/errors';
import type { Logger } from '../logger';

/** `extensions.code` for each kind of provider failure; clients and gateways switch on these. */
export const PROVIDER_ERROR_CODES: Record<ProviderErrorKind, string> = {
  connection: 'PROVIDER_UNAVAILABLE',
  unavailable: 'PROVIDER_UNAVAILABLE',
  timeout: 'PROVIDER_TIMEOUT',
  authentication: 'PROVIDER_UNAUTHENTICATED',
  permission: 'PROVIDER_FORBIDDEN',
  rate_limit: 'PROVIDER_RATE_LIMITED',
  invalid_request: 'PROVIDER_BAD_REQUEST',
  business: 'PROVIDER_REJECTED',
  not_found: 'PROVIDER_NOT_FOUND',
  server: 'PROVIDER_ERROR',
  response: 'PROVIDER_BAD_RESPONSE',
  not_configured: 'PROVIDER_NOT_CONFIGURED',
};

const KNOWN_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'IDEMPOTENCY_KEY_IN_USE',
  // Identity and access (src/auth): the message says what is missing and never echoes a token.
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'SERVICE_UNAVAILABLE',
  'TOO_MANY_SUBSCRIPTIONS',
  ...Object.values(PROVIDER_ERROR_CODES),
]);

/**
 * The GraphQL boundary: provider failures become errors with `extensions.code` and the provider's own code, and
 * anything unexpected is masked (logged here, never sent) so no raw provider body, secret or stack leaks out.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, logger?: Logger): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof ProviderError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: PROVIDER_ERROR_CODES[original.kind],
        provider: original.provider,
        ...(original.code ? { providerCode: original.code } : {}),
        ...(original.requestId ? { providerRequestId: original.requestId } : {}),
      },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && KNOWN_CODES.has(code)) return { ...formatted, extensions: { ...formatted.extensions, stacktrace: undefined } };
  if (original === undefined || original === null || (error instanceof GraphQLError && !error.originalError)) {
    // A GraphQLError thrown on purpose (validation, a bad argument): its message is meant for the client.
    const { stacktrace: _hidden, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  logger?.error({ err: original, path: formatted.path }, 'unexpected error while resolving');
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
