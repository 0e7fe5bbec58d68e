import type http from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import type { Logger } from '../logger';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from '../observability/request-id';
import { problemOf, type HttpProblem } from '../security/http-errors';

/** What body-parser's `json({ limit: '1mb' })` allowed on the Express route this replaces. */
export const GRAPHQL_BODY_LIMIT = 1024 * 1024;

type Middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: (error?: unknown) => void) => void;

export interface GraphqlPostOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** The per-operation context: the caller verified from the request and its body (the gateway's signed operation). */
  context: (req: http.IncomingMessage, body: unknown) => Promise<TContext>;
  /** CORS for browser callers, the same middleware Express runs for the other /graphql requests. */
  cors: Middleware;
  logger: Logger;
}

/**
 * `POST /graphql` with a JSON body, the request nearly every GraphQL client sends, served straight from node:http
 * ahead of Express: the same request id, CORS, body limit, caller and Apollo Server, without Express's router,
 * request/response decoration, body-parser stack and ETag hashing, which cost a read more than its own store
 * queries (docs/benchmarks.md, P1). Everything else on /graphql (GET, preflights, the IDE, compressed or non-UTF-8
 * bodies, other media types) is left to Express, which answers it as before.
 *
 * Returns false, touching nothing, when the request is not one it serves.
 */
export function graphqlPostEndpoint<TContext extends BaseContext>(options: GraphqlPostOptions<TContext>) {
  const { apollo, context, cors, logger } = options;
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'POST' || !isGraphqlPath(req.url) || !isPlainJson(req.headers)) return false;
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    runWithRequestId(requestId, () => {
      serve().catch((error: unknown) => {
        const problem = problemOf(error, requestId);
        if (problem.status >= 500) logger.error({ err: error, method: 'POST', path: '/graphql' }, 'unexpected error while answering a request');
        if (res.headersSent) res.destroy();
        else answerProblem(res, problem);
      });
    });
    return true;

    async function serve(): Promise<void> {
      if (req.headers.origin !== undefined) await new Promise<void>((resolve, reject) => cors(req, res, (error) => (error ? reject(error) : resolve())));
      const body = await readJson(req, res, logger);
      if (body === undefined) return;
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const search = req.url!.length > '/graphql'.length ? req.url!.slice('/graphql'.length) : '';
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers, search, body },
        context: () => context(req, body),
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') {
        res.setHeader('content-length', Buffer.byteLength(response.body.string));
        res.end(response.body.string);
        return;
      }
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  };
}

const isGraphqlPath = (url: string | undefined): boolean => url === '/graphql' || (url !== undefined && url.startsWith('/graphql?'));

/** `application/json`, in UTF-8 (or no charset), not compressed: what this path reads itself. */
function isPlainJson(headers: http.IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  if (type === undefined) return false;
  const [mediaType = '', ...params] = type.split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') return false;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'charset' && value.replace(/"/g, '') !== 'utf-8') return false;
  }
  const encoding = headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}

/**
 * The body as JSON, the way body-parser's strict `json()` reads it: an object or array, `{}` when empty, a 413 over
 * the limit (before reading when Content-Length says so), a 400 when it does not parse. Undefined once refused.
 */
async function readJson(req: http.IncomingMessage, res: http.ServerResponse, logger: Logger): Promise<unknown> {
  const refuse = (problem: HttpProblem) => {
    logger.info({ method: 'POST', path: '/graphql', status: problem.status, code: problem.code }, `request refused: ${problem.message}`);
    answerProblem(res, problem);
    // Whatever is left of the body is read and dropped, so the connection stays usable.
    req.resume();
    return undefined;
  };
  const tooLarge = () => refuse(problemOf({ type: 'entity.too.large', limit: GRAPHQL_BODY_LIMIT }, undefined));
  const declared = Number(req.headers['content-length']);
  if (declared > GRAPHQL_BODY_LIMIT) return tooLarge();
  const read = await new Promise<{ chunks: Buffer[]; size: number } | 'over' | 'aborted'>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GRAPHQL_BODY_LIMIT) chunks.push(chunk);
      else {
        done();
        resolve('over');
      }
    };
    const onEnd = () => {
      done();
      resolve({ chunks, size });
    };
    const onAborted = () => {
      done();
      resolve('aborted');
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('aborted', onAborted);
  });
  if (read === 'over') return tooLarge();
  if (read === 'aborted') return refuse(problemOf({ type: 'request.aborted' }, undefined));
  const { chunks, size } = read;
  if (size === 0) return {};
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // answered below
    }
  }
  return refuse(problemOf({ type: 'entity.parse.failed' }, undefined));
}

/** The GraphQL-shaped problem answer the Express error handler gives on /graphql (src/security/http-errors.ts). */
function answerProblem(res: http.ServerResponse, problem: HttpProblem): void {
  const body = JSON.stringify({ errors: [{ message: problem.message, extensions: { code: problem.code } }] });
  res.statusCode = problem.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
