import http from 'node:http';
import https from 'node:https';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import fetch, { type RequestInit } from 'node-fetch';
import type { BaseUrl } from '../config';
import { redactUrl, silentLogger, type Logger } from '../logger';
import { tracer } from '../observability/tracing';
import {
  ProviderConnectionError,
  ProviderError,
  ProviderResponseError,
  ProviderTimeoutError,
} from './errors';
import { DEFAULT_RETRY_POLICY, retryDelayMs, shouldRetry, type RetryPolicy } from './retry';

/** A request as it is about to go on the wire; the `sign` hook may add headers or rewrite the body. */
export interface OutgoingRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Path and query as sent, without the base URL's path prefix (some providers sign it). */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ProviderResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface CallSpec<T> {
  /** The provider's operation name, for logs (apiCode, X-TC-Action, path). */
  operation: string;
  method: 'GET' | 'POST';
  /** Appended to the base URL; may carry a query string. */
  path: string;
  headers?: Record<string, string>;
  /** Builds the body afresh for each attempt (time-stamped envelopes need a new nonce and timestamp). */
  body?: () => string;
  /** A repeated call has the same effect as one: timeouts and 5xx answers may then be retried. */
  idempotent: boolean;
  /** Runs on every attempt, after the body is built and right before sending, so signatures are always fresh. */
  sign?: (request: OutgoingRequest) => void | Promise<void>;
  /** Reads the answer: returns the result or throws a {@link ProviderError} (mapping lives in the client). */
  parse: (response: ProviderResponse) => T;
}

/** Opens after repeated failures so a dead provider costs callers nothing (see ./breaker). */
export interface CircuitBreaker {
  /** Throws ProviderUnavailableError when the circuit is open. */
  before(): void;
  success(): void;
  failure(error: ProviderError): void;
}

/** Sees every call once it ended (metrics); must not throw. */
export interface ProviderCallObserver {
  providerCall(observation: { provider: string; action: string; outcome: string; seconds: number }): void;
}

export interface PipelineOptions {
  provider: string;
  baseUrl: BaseUrl;
  /** The whole call's deadline, retries and their backoff included. */
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  breaker?: CircuitBreaker;
  observer?: ProviderCallObserver;
  /** Injection points for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one request pipeline every provider client goes through: base URL, deadline, per-attempt signing, retries
 * of what is safe to repeat, keep-alive connections per provider, structured logs without secrets, and one place
 * where transport failures become typed provider errors.
 */
export class HttpPipeline {
  readonly provider: string;
  private readonly policy: RetryPolicy;
  private readonly logger: Logger;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PipelineOptions) {
    this.provider = options.provider;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.logger = (options.logger ?? silentLogger).child({ provider: options.provider });
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
  }

  get baseUrl(): string {
    const base = this.options.baseUrl;
    return typeof base === 'function' ? base() : base;
  }

  /**
   * One call, retries included, as one span (`<provider> <operation>`, attributes provider, action, outcome and
   * retries; an event per failed attempt) and one metrics observation.
   */
  async call<T>(spec: CallSpec<T>): Promise<T> {
    const started = performance.now();
    return tracer().startActiveSpan(
      `${this.provider} ${spec.operation}`,
      { kind: SpanKind.CLIENT, attributes: { provider: this.provider, action: spec.operation } },
      async (span) => {
        let outcome = 'success';
        let attempts = 0;
        try {
          return await this.attempts(spec, span, () => attempts++);
        } catch (caught) {
          const error = this.asProviderError(caught);
          outcome = error.kind;
          span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.kind });
          span.setAttribute('error.type', error.kind);
          throw error;
        } finally {
          span.setAttributes({ outcome, retries: Math.max(0, attempts - 1) });
          span.end();
          this.options.observer?.providerCall({ provider: this.provider, action: spec.operation, outcome, seconds: (performance.now() - started) / 1000 });
        }
      },
    );
  }

  private async attempts<T>(spec: CallSpec<T>, span: Span, counted: () => void): Promise<T> {
    this.options.breaker?.before();
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        counted();
        const result = await this.attempt(spec, attempt, deadline);
        this.options.breaker?.success();
        return result;
      } catch (caught) {
        const error = this.asProviderError(caught);
        const remaining = deadline - Date.now();
        const delay = retryDelayMs(attempt, this.policy, this.random, error.retryAfterMs);
        const retry = shouldRetry(error, attempt, this.policy, spec.idempotent) && delay < remaining;
        this.logger.warn(
          { operation: spec.operation, attempt, kind: error.kind, code: error.code, retry, delayMs: retry ? delay : undefined },
          `${this.provider} ${spec.operation} failed: ${error.message}`,
        );
        span.addEvent('attempt failed', { attempt, 'error.type': error.kind, retry, ...(retry ? { 'retry.delay_ms': delay } : {}) });
        if (!retry) {
          // Refusals about the request itself say nothing about the provider's health.
          if (['connection', 'timeout', 'server', 'rate_limit', 'response'].includes(error.kind)) {
            this.options.breaker?.failure(error);
          }
          throw error;
        }
        await this.sleep(delay);
      }
    }
  }

  private async attempt<T>(spec: CallSpec<T>, attempt: number, deadline: number): Promise<T> {
    const base = this.baseUrl;
    const url = base + spec.path;
    const request: OutgoingRequest = {
      method: spec.method,
      url,
      pathAndQuery: spec.path,
      headers: { accept: 'application/json', ...spec.headers },
      body: spec.body?.(),
    };
    await spec.sign?.(request);

    const remaining = deadline - Date.now();
    if (remaining <= 0) throw this.timeout(spec, 0);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), remaining);
    const started = Date.now();
    try {
      const init: RequestInit = {
        method: request.method,
        headers: request.headers,
        body: request.body,
        agent: (parsed: URL) => (parsed.protocol === 'https:' ? this.httpsAgent : this.httpAgent),
        signal: controller.signal as RequestInit['signal'],
        redirect: 'error',
      };
      const res = await fetch(request.url, init);
      const text = await res.text();
      const response: ProviderResponse = { status: res.status, headers: Object.fromEntries(res.headers.entries()), text };
      this.logger.debug(
        { operation: spec.operation, attempt, status: res.status, ms: Date.now() - started, url: redactUrl(url) },
        `${this.provider} ${spec.operation} answered ${res.status}`,
      );
      return spec.parse(response);
    } catch (caught) {
      if (caught instanceof ProviderError) throw caught;
      if (controller.signal.aborted) throw this.timeout(spec, Date.now() - started);
      const code = (caught as NodeJS.ErrnoException).code;
      throw new ProviderConnectionError(`could not reach ${this.provider} (${code ?? (caught as Error).message})`, {
        provider: this.provider,
        code,
        notSent: code !== undefined && NOT_SENT_CODES.has(code),
        cause: caught,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private timeout(spec: CallSpec<unknown>, elapsedMs: number): ProviderTimeoutError {
    return new ProviderTimeoutError(
      `${this.provider} did not answer ${spec.operation} within the ${this.options.timeoutMs} ms deadline (last attempt ${elapsedMs} ms)`,
      { provider: this.provider },
    );
  }

  private asProviderError(caught: unknown): ProviderError {
    if (caught instanceof ProviderError) return caught;
    return new ProviderResponseError(`unexpected failure reading the ${this.provider} answer: ${(caught as Error).message}`, {
      provider: this.provider,
      cause: caught,
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Parses a JSON answer or throws a typed error that says what was wrong with it. */
export function parseJsonBody(provider: string, response: ProviderResponse): unknown {
  try {
    return JSON.parse(response.text);
  } catch {
    throw new ProviderResponseError(`${provider} answered HTTP ${response.status} with a body that is not JSON`, {
      provider,
      httpStatus: response.status,
    });
  }
}
