import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';
import { REQUEST_ID_HEADER } from '../observability/request-id';

/**
 * Every answer is JSON, whatever went wrong and wherever: a body that is not JSON, one that is too large, a route
 * that does not exist, a handler that threw. Express's own fallback answers an HTML page with the stack trace (and
 * so the install path) outside production; these handlers run instead, on every route.
 *
 * On /graphql the shape is a GraphQL response (`{"errors":[{"message","extensions":{"code"}}]}`), so GraphQL clients
 * show the message; elsewhere it is `{"code","message"}`.
 */

/** body-parser's error `type`s → status and code. */
const BODY_ERRORS: Record<string, { status: number; code: string; message: (limit?: number) => string }> = {
  'entity.too.large': { status: 413, code: 'PAYLOAD_TOO_LARGE', message: (limit) => `the body is larger than ${limit === undefined ? 'allowed' : describeBytes(limit)}` },
  'entity.parse.failed': { status: 400, code: 'BAD_REQUEST', message: () => 'the body must be a JSON object, and this one does not parse as one' },
  'entity.verify.failed': { status: 400, code: 'BAD_REQUEST', message: () => 'the body was refused' },
  'request.aborted': { status: 400, code: 'BAD_REQUEST', message: () => 'the request was aborted before its body arrived' },
  'request.size.invalid': { status: 400, code: 'BAD_REQUEST', message: () => 'the body is shorter or longer than its Content-Length' },
  'stream.encoding.set': { status: 500, code: 'INTERNAL_SERVER_ERROR', message: () => 'Internal server error' },
  'charset.unsupported': { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: () => 'the body\'s charset is not supported; send UTF-8' },
  'encoding.unsupported': { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: () => 'the body\'s Content-Encoding is not supported; send identity, gzip, deflate or br' },
};

/** 262144 → "256 KB". */
export function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} bytes`;
}

export interface HttpProblem {
  status: number;
  code: string;
  message: string;
}

/** What an error that reached Express means for the client: a 4xx it caused, or a masked 500. */
export function problemOf(error: unknown, requestId: string | undefined): HttpProblem {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { type?: unknown; status?: unknown; statusCode?: unknown; limit?: unknown };
  const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (known && known.status < 500) return { status: known.status, code: known.code, message: known.message(typeof e.limit === 'number' ? e.limit : undefined) };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { status, code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', message: 'the request could not be read' };
  return { status: 500, code: 'INTERNAL_SERVER_ERROR', message: requestId ? `Internal server error (request id ${requestId})` : 'Internal server error' };
}

const isGraphqlPath = (req: Request): boolean => req.path === '/graphql' || req.path.startsWith('/graphql/');

/** Answers a problem in the shape the route's clients read. */
export function sendProblem(req: Request, res: Response, problem: HttpProblem): void {
  if (isGraphqlPath(req)) {
    res.status(problem.status).json({ errors: [{ message: problem.message, extensions: { code: problem.code } }] });
  } else {
    res.status(problem.status).json({ code: problem.code, message: problem.message });
  }
}

/** Last route: a path nothing serves. */
export function notFoundHandler(): RequestHandler {
  return (req, res) => {
    sendProblem(req, res, { status: 404, code: 'NOT_FOUND', message: `nothing is served at ${req.method} ${req.path.length > 100 ? `${req.path.slice(0, 100)}…` : req.path}` });
  };
}

/**
 * Last middleware: turns any error into a JSON answer. A 4xx names what was wrong with the request; anything else
 * is logged in full and answered as a masked 500 naming the request id, never the error's text or stack.
 */
export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for an answer of our own: Express closes the connection.
      next(error);
      return;
    }
    const requestId = res.getHeader(REQUEST_ID_HEADER);
    const problem = problemOf(error, typeof requestId === 'string' ? requestId : undefined);
    if (problem.status >= 500) logger.error({ err: error, method: req.method, path: req.path }, 'unexpected error while answering a request');
    else logger.info({ method: req.method, path: req.path, status: problem.status, code: problem.code }, `request refused: ${problem.message}`);
    sendProblem(req, res, problem);
  };
}
