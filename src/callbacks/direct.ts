import type http from 'node:http';
import type express from 'express';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from '../observability/request-id';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * Provider callbacks dispatched by exact path straight from node:http, without walking Express's router and its
 * middleware stack: a callback is the hottest write path (thousands per second during a batch cancel), and the
 * router was a fifth of its cost (docs/benchmarks.md, P2 and P4). The handler still gets Express's request and
 * response (the same prototypes Express gives them, so `req.query`, `req.get`, `res.status().json()` behave alike),
 * the request id, and the app's JSON error handler for anything it throws or passes on.
 *
 * Only `POST <path>` and `POST <path>?…` are taken here; any other spelling (a trailing slash, other case) is left
 * to Express, where the same handlers are registered too.
 */
export function directPostRoutes(
  app: express.Express,
  routes: ReadonlyMap<string, express.RequestHandler>,
  fallbacks: { notFound: express.RequestHandler; error: express.ErrorRequestHandler },
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const serve = (handler: express.RequestHandler): Handler => (rawReq, rawRes) => {
    // What Express's app.handle does before its router runs.
    const req = rawReq as express.Request;
    const res = rawRes as express.Response;
    (req as { res?: unknown }).res = res;
    (res as { req?: unknown }).req = req;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    res.locals ??= Object.create(null) as express.Response['locals'];
    req.originalUrl ??= req.url;
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    runWithRequestId(requestId, () => {
      const next: express.NextFunction = (error?: unknown) => {
        if (error === undefined || error === 'route' || error === 'router') fallbacks.notFound(req, res, () => res.end());
        else fallbacks.error(error, req, res, () => res.destroy());
      };
      try {
        Promise.resolve(handler(req, res, next)).catch(next);
      } catch (error) {
        next(error);
      }
    });
  };
  const handlers = new Map([...routes].map(([path, handler]) => [path, serve(handler)]));
  return (req, res) => {
    if (req.method !== 'POST' || req.url === undefined) return false;
    const query = req.url.indexOf('?');
    const handler = handlers.get(query === -1 ? req.url : req.url.slice(0, query));
    if (!handler) return false;
    handler(req, res);
    return true;
  };
}
