import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

/** What every log line written while serving one request (or one WebSocket operation) carries. */
export interface RequestScope {
  requestId: string;
}

/**
 * The request a piece of code is running for. Module scope on purpose: it is the mechanism (like the OpenTelemetry
 * context), not state — each request's scope lives only in its own async continuation.
 */
const storage = new AsyncLocalStorage<RequestScope>();

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id to use for a request: the caller's `x-request-id` when it is a plausible id (at most 128 characters of
 * letters, digits and `._:-`, so it cannot forge log fields or grow unbounded), otherwise a new UUID.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && VALID_ID.test(value) ? value : randomUUID();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `work` (and everything it starts) as part of the request `requestId`. */
export function runWithRequestId<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}

/**
 * pino `mixin`: puts the current request id on every line logged inside a request, child loggers included, and
 * the trace id when tracing is on, so a log line leads to its trace.
 */
export function logContextMixin(): Record<string, string> {
  const fields: Record<string, string> = {};
  const requestId = currentRequestId();
  if (requestId !== undefined) fields.requestId = requestId;
  const span = trace.getActiveSpan()?.spanContext();
  if (span && trace.isSpanContextValid(span)) fields.traceId = span.traceId;
  return fields;
}

/**
 * First middleware of the app: keeps or makes the request id, answers it as `x-request-id` on every response
 * (404s and the sandbox included), and runs the rest of the request inside its scope. The validated id also
 * replaces the incoming header, so code that reads headers sees the same id the logs carry.
 */
export function requestIdMiddleware(): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    runWithRequestId(requestId, next);
  };
}
