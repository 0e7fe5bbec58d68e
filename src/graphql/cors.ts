import cors from 'cors';
import type express from 'express';

/** Request headers a browser app may send: the bearer token, JSON bodies, Apollo's CSRF header, tracing. */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id', 'traceparent'];

/**
 * CORS for the GraphQL endpoints: an origin in CORS_ORIGINS (`*`: any, refused in production by the configuration)
 * gets its preflight answered and may send credentials and the headers above; any other origin gets no CORS
 * headers at all, so its browser keeps the answer from it. This only relaxes the browser's read protection: Apollo's
 * CSRF prevention (and the JSON-only rule of /graphql/stream) still refuse the simple requests a hostile page could
 * send without a preflight.
 */
export function corsMiddleware(corsOrigins: readonly string[]): express.RequestHandler {
  const any = corsOrigins.includes('*');
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && (any || corsOrigins.includes(origin)) ? origin : false),
    credentials: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  });
}
