import express from 'express';
import { GraphQLError, parse, specifiedRules, validate, type ExecutionResult, type GraphQLSchema, type ValidationRule } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/express';
import type { Caller } from '../auth/caller';
import type { Logger } from '../logger';
import { logMutation, mutationOf, outcomeOf } from './audit';
import { createContext, type Context, type Services } from './context';
import { formatError } from './errors';
import { sseOperationObserver, type OperationLogDeps } from './observability';
import { originAllowed } from './origins';

export interface SseOptions {
  schema: GraphQLSchema;
  services: Services;
  /** The caller of an HTTP request, exactly as for POST /graphql; throws UNAUTHENTICATED on a bad token. */
  authenticate: (req: express.Request) => Promise<Caller>;
  /** Browser origins allowed: this server's own and CORS_ORIGINS. */
  allowedOrigins: () => readonly string[];
  /** Rules run beside GraphQL's own (the operation limits HTTP and the WebSocket apply). */
  validationRules?: readonly ValidationRule[];
  /** GRAPHQL_MAX_TOKENS: a longer document is refused while it is parsed, as on HTTP and the WebSocket. */
  maxTokens?: number;
  logger: Logger;
  production?: boolean;
  /** Where each operation's log line and metrics go, as for HTTP and the WebSocket (src/graphql/observability.ts). */
  observe?: OperationLogDeps;
  /** Keep GraphQL's "Did you mean" suggestions (off in production unless asked for). */
  suggestions?: boolean;
}

/** The body parser's limit, as for POST /graphql. */
const BODY_LIMIT = '1mb';

function jsonError(res: express.Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * GraphQL over Server-Sent Events (the graphql-sse protocol, "distinct connections" mode: one POST per operation,
 * answered by an event stream) for clients that cannot open a WebSocket. Same rules as POST /graphql:
 * - the caller comes from the `Authorization` header (or a gateway's signed extensions), and a token that does not
 *   verify is refused with 401 before anything runs; scopes, tenancy and `after` resumption come with the schema;
 * - like Apollo's CSRF prevention, only `application/json` bodies are accepted (a browser cannot send one across
 *   origins without a CORS preflight), and a browser's `Origin` must be this server's own or in CORS_ORIGINS;
 * - errors go through the same formatter (codes kept, internals masked with the request id).
 */
export function sseHandler(options: SseOptions): express.RequestHandler[] {
  const rules = [...specifiedRules, ...(options.validationRules ?? [])];
  const format = (error: GraphQLError): GraphQLError => {
    const f = formatError(error.toJSON(), error, options.logger, { production: options.production, suggestions: options.suggestions });
    return new GraphQLError(f.message, { path: f.path, extensions: f.extensions });
  };
  const callers = new WeakMap<express.Request, Caller>();
  const observer = options.observe && sseOperationObserver(options.observe);

  const handler = createHandler<Context & Record<PropertyKey, unknown>>({
    schema: options.schema,
    // No stream tokens: every request is its own stream ("distinct connections" only).
    authenticate: () => null,
    validate: (schema, document) => validate(schema, document, rules),
    // Only the token limit is checked here (graphql-sse then parses as usual): a refusal stops before anything runs.
    onSubscribe: (_req, params) => {
      if (options.maxTokens === undefined || typeof params.query !== 'string') return undefined;
      try {
        parse(params.query, { maxTokens: options.maxTokens });
      } catch (error) {
        if (!/more tha[nt] \d+ tokens/.test((error as Error).message)) return undefined;
        const message = `The operation is refused before running: it has more than ${options.maxTokens} tokens (GRAPHQL_MAX_TOKENS).`;
        return [
          JSON.stringify({ errors: [{ message, extensions: { code: 'GRAPHQL_PARSE_FAILED', limit: 'GRAPHQL_MAX_TOKENS' } }] }),
          { status: 400, statusText: 'Bad Request', headers: { 'content-type': 'application/json; charset=utf-8' } },
        ];
      }
      return undefined;
    },
    context: (req) => createContext(options.services, callers.get(req.raw) as Caller) as Context & Record<PropertyKey, unknown>,
    onNext: (_ctx, req, result) => {
      const r = result as ExecutionResult;
      const formatted = r.errors ? { ...r, errors: r.errors.map(format) } : r;
      observer?.next(req, formatted.errors?.map((e) => e.toJSON()));
      return formatted;
    },
    onComplete: (_ctx, req) => observer?.completed(req),
    onOperation: (ctx, req, args, result) => {
      observer?.started(req, args);
      const mutation = mutationOf(args.document, args.operationName);
      if (!mutation || !('data' in (result as object) || 'errors' in (result as object))) return;
      logMutation(options.logger, {
        caller: ctx.caller,
        operationName: args.operationName ?? mutation.name?.value ?? null,
        fields: mutation.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : [])),
        outcome: outcomeOf(result as ExecutionResult),
        transport: 'sse',
      });
    },
  });

  const guard: express.RequestHandler = (req, res, next) => {
    if (!originAllowed(req.headers.origin, options.allowedOrigins())) {
      jsonError(res, 403, 'FORBIDDEN', 'this Origin may not call the API: add it to CORS_ORIGINS');
      return;
    }
    if (!req.is('application/json')) {
      jsonError(res, 415, 'BAD_REQUEST', 'POST /graphql/stream takes a JSON body: Content-Type: application/json');
      return;
    }
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      jsonError(res, 406, 'BAD_REQUEST', 'POST /graphql/stream answers an event stream: send Accept: text/event-stream (or use POST /graphql)');
      return;
    }
    // graphql-sse compares the header exactly; a browser's EventSource-like clients may add other types.
    req.headers.accept = 'text/event-stream';
    next();
  };

  const run: express.RequestHandler = async (req, res, next) => {
    try {
      callers.set(req, await options.authenticate(req));
    } catch (error) {
      if (error instanceof GraphQLError) {
        const f = format(error);
        const code = String(f.extensions?.code ?? 'UNAUTHENTICATED');
        const status = code === 'UNAUTHENTICATED' ? 401 : code === 'RATE_LIMITED' ? 429 : 503;
        const retryAfter = f.extensions?.retryAfter;
        if (status === 429 && retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
        jsonError(res, status, code, f.message);
        return;
      }
      next(error);
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      options.logger.error({ err: error }, 'GraphQL over SSE failed');
      if (!res.headersSent) jsonError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else res.end();
    }
  };

  return [guard, express.json({ limit: BODY_LIMIT }), run];
}
