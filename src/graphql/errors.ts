import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ProviderError, type ProviderErrorKind } from '../providers/errors';
import type { Logger } from '../logger';
import { currentRequestId } from '../observability/request-id';

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
  // A resume cursor below what event retention kept (src/graphql/cursor.ts).
  'CURSOR_EXPIRED',
  // A malformed id argument (src/graphql/ids.ts); a subscription sent where only queries and mutations run.
  'INVALID_ID',
  'SUBSCRIPTION_OVER_HTTP',
  // Cost limits and rate limits (src/graphql/limits.ts, src/graphql/rate-limit.ts): the message names the limit.
  'OPERATION_TOO_COSTLY',
  'RATE_LIMITED',
  ...Object.values(PROVIDER_ERROR_CODES),
]);

/** What a provider failure answers in production: a stable text per code, never the provider's own words. */
const PRODUCTION_MESSAGES: Record<string, (provider: string) => string> = {
  PROVIDER_UNAVAILABLE: (p) => `${p} is unavailable`,
  PROVIDER_TIMEOUT: (p) => `${p} did not answer in time`,
  PROVIDER_UNAUTHENTICATED: (p) => `${p} did not accept this server's credentials`,
  PROVIDER_FORBIDDEN: (p) => `${p} does not allow this operation for this account`,
  PROVIDER_RATE_LIMITED: (p) => `${p} is throttling requests`,
  PROVIDER_BAD_REQUEST: (p) => `${p} found the request malformed`,
  PROVIDER_REJECTED: (p) => `${p} refused the request`,
  PROVIDER_NOT_FOUND: (p) => `${p} does not know this record`,
  PROVIDER_ERROR: (p) => `${p} failed to process the request`,
  PROVIDER_BAD_RESPONSE: (p) => `${p} answered something this server cannot read`,
  PROVIDER_NOT_CONFIGURED: (p) => `${p} is not configured on this server`,
};

/** Provider codes and request ids are identifiers; anything else (free text) is not passed on in production. */
const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface FormatErrorOptions {
  /** NODE_ENV=production: provider errors answer {@link PRODUCTION_MESSAGES}, not the provider's message. */
  production?: boolean;
  /** The request the error belongs to; defaults to the one in scope (src/observability/request-id.ts). */
  requestId?: string;
  /** False (production, unless INTROSPECTION=on): "Did you mean …?" is cut from every message. */
  suggestions?: boolean;
}

/** graphql-js ends a message with its guesses: `… Did you mean "signFlow"?`, `… Did you mean the enum value "X"?`. */
const SUGGESTION = /\s*Did you mean [\s\S]*\?$/;

/** The message without graphql-js's guesses at names of the schema (each one a piece of it, with introspection off). */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '');
}

/**
 * The GraphQL boundary: provider failures become errors with `extensions.code` and the provider's own code, and
 * anything unexpected is masked (logged here, never sent) so no raw provider body, secret or stack leaks out. The
 * masked message names the request id, which the log line about it carries too.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, logger?: Logger, options: FormatErrorOptions = {}): GraphQLFormattedError {
  if (options.suggestions === false && SUGGESTION.test(formatted.message)) {
    return formatError({ ...formatted, message: withoutSuggestions(formatted.message) }, error, logger, { ...options, suggestions: true });
  }
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof ProviderError) {
    const code = PROVIDER_ERROR_CODES[original.kind];
    const keep = (value: string | undefined) => (value !== undefined && (!options.production || IDENTIFIER.test(value)) ? value : undefined);
    const providerCode = keep(original.code);
    const providerRequestId = keep(original.requestId);
    return {
      message: options.production ? `${PRODUCTION_MESSAGES[code]?.(original.provider) ?? `${original.provider} failed`} (${code})` : original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code,
        provider: original.provider,
        ...(providerCode ? { providerCode } : {}),
        ...(providerRequestId ? { providerRequestId } : {}),
      },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && KNOWN_CODES.has(code)) return { ...formatted, extensions: { ...formatted.extensions, stacktrace: undefined } };
  if (original === undefined || original === null || original instanceof GraphQLError || (error instanceof GraphQLError && !error.originalError)) {
    // A GraphQLError thrown on purpose (validation, a bad argument), or graphql-js's own wrapped in another (a variable
    // that does not coerce, over the WebSocket where Apollo adds no code): its message is meant for the client.
    const { stacktrace: _hidden, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const requestId = options.requestId ?? currentRequestId();
  logger?.error({ err: original, path: formatted.path, ...(requestId ? { requestId } : {}) }, 'unexpected error while resolving');
  return {
    message: requestId ? `Internal server error (request id ${requestId})` : 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', ...(requestId ? { requestId } : {}) },
  };
}
