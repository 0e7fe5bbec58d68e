/**
 * Every failure a provider call can end in, as a small typed hierarchy. Provider clients map their wire errors
 * into these in one place each (`mapping.ts`); the GraphQL boundary maps these into `extensions.code`.
 */
export type ProviderErrorKind =
  | 'connection'
  | 'timeout'
  | 'authentication'
  | 'permission'
  | 'rate_limit'
  | 'invalid_request'
  | 'business'
  | 'not_found'
  | 'server'
  | 'response'
  | 'not_configured'
  | 'unavailable';

export interface ProviderErrorDetails {
  provider: string;
  /** The provider's own code (`401001`, `AuthFailure.SignatureFailure`, …). */
  code?: string;
  httpStatus?: number;
  requestId?: string;
  /** Safe to repeat even for a non-idempotent call: the provider certainly did not act (nonce clash, throttled). */
  retryable?: boolean;
  /** The provider asked us to wait this long before trying again. */
  retryAfterMs?: number;
  cause?: unknown;
}

export abstract class ProviderError extends Error {
  abstract readonly kind: ProviderErrorKind;
  readonly provider: string;
  readonly code?: string;
  readonly httpStatus?: number;
  readonly requestId?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(message: string, details: ProviderErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.provider = details.provider;
    this.code = details.code;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The request may or may not have reached the provider (reset, DNS, refused). */
export class ProviderConnectionError extends ProviderError {
  readonly kind = 'connection';
  /** True when the connection failed before any byte was sent: always safe to retry. */
  readonly notSent: boolean;
  constructor(message: string, details: ProviderErrorDetails & { notSent?: boolean }) {
    super(message, details);
    this.notSent = details.notSent ?? false;
  }
}
export class ProviderTimeoutError extends ProviderError {
  readonly kind = 'timeout';
}
export class ProviderAuthenticationError extends ProviderError {
  readonly kind = 'authentication';
}
export class ProviderPermissionError extends ProviderError {
  readonly kind = 'permission';
}
export class ProviderRateLimitError extends ProviderError {
  readonly kind = 'rate_limit';
}
/** The provider refused the request's shape: a bug on our side or input our validation let through. */
export class ProviderInvalidRequestError extends ProviderError {
  readonly kind = 'invalid_request';
}
/** A business refusal (flow in the wrong state, …): answered to users as a `userError`, never retried. */
export class ProviderBusinessError extends ProviderError {
  readonly kind = 'business';
}
export class ProviderNotFoundError extends ProviderError {
  readonly kind = 'not_found';
}
export class ProviderServerError extends ProviderError {
  readonly kind = 'server';
}
/** The provider answered something we cannot read: wrong content type, bad JSON, missing fields. */
export class ProviderResponseError extends ProviderError {
  readonly kind = 'response';
}
export class ProviderNotConfiguredError extends ProviderError {
  readonly kind = 'not_configured';
  constructor(provider: string) {
    super(`the ${provider} provider is not configured on this server`, { provider });
  }
}
/** The circuit breaker is open: recent calls failed, so this one is refused without trying. */
export class ProviderUnavailableError extends ProviderError {
  readonly kind = 'unavailable';
}
