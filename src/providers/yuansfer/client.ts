import type { YuansferConfig } from '../../config';
import { AUTO_DEBIT_NO } from '../../domain/autodebit';
import { silentLogger, type Logger } from '../../logger';
import { ProviderRateLimitError, ProviderResponseError, ProviderServerError } from '../errors';
import { HttpPipeline, type CircuitBreaker, type ProviderCallObserver, type ProviderResponse } from '../http';
import { RET_CODES, YUANSFER, yuansferError, type YuansferOsType, type YuansferTerminal } from './mapping';
import { verifySign, type YuansferParamValue } from './signing';

export interface ConsultRequest {
  merchantNo: string;
  storeNo: string;
  /** Lower case, as the consult parameter list spells the channels. */
  vendor: string;
  terminal: YuansferTerminal;
  autoReference: string;
  /** Where the payer's browser returns after authorizing. */
  autoRedirectUrl: string;
  /** Where Yuansfer posts the authorization IPN. */
  autoIpnUrl: string;
  note?: string | null;
  osType?: YuansferOsType | null;
  osVersion?: string | null;
}

export interface ConsultResult {
  authUrl: string;
  autoDebitNo: string;
  autoReference: string | null;
  vendor: string | null;
}

export interface AuthorizationRef {
  merchantNo: string;
  storeNo: string;
  autoDebitNo: string;
}

export interface TokenResult {
  autoDebitNo: string;
  autoReference: string | null;
  vendor: string | null;
  accessTokenExpiryTime: Date | null;
  refreshTokenExpiryTime: Date | null;
}

export interface RevokeResult {
  autoDebitNo: string;
  autoReference: string | null;
  vendor: string | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates the `{result, ret_code, ret_msg}` envelope at the edge and turns any `ret_code` but `000100` into a
 * typed error. The seed spells the message key `retMsg` in one example, so both spellings are read. Errors come
 * with HTTP 400 and an envelope; an answer without one is judged by its HTTP status.
 */
export function readEnvelope(response: ProviderResponse): Record<string, unknown> {
  if (response.status === 429) {
    throw new ProviderRateLimitError('Yuansfer answered HTTP 429 (too many requests)', { provider: YUANSFER, httpStatus: 429 });
  }
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    body = undefined;
  }
  if (!isRecord(body) || typeof body.ret_code !== 'string') {
    const details = { provider: YUANSFER, httpStatus: response.status };
    if (response.status >= 500) throw new ProviderServerError(`Yuansfer answered HTTP ${response.status}`, details);
    throw new ProviderResponseError(`Yuansfer answered HTTP ${response.status} without a JSON envelope carrying a ret_code string`, details);
  }
  const message = [body.ret_msg, body.retMsg].find((m): m is string => typeof m === 'string') ?? '(no message)';
  if (body.ret_code !== RET_CODES.SUCCESS) throw yuansferError(body.ret_code, message, response.status);
  if (!isRecord(body.result)) {
    throw new ProviderResponseError(`Yuansfer answered ${RET_CODES.SUCCESS} without a result object`, { provider: YUANSFER, httpStatus: response.status });
  }
  return body.result;
}

function text(result: Record<string, unknown>, field: string, operation: string): string | null {
  const value = result[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') {
    throw new ProviderResponseError(`Yuansfer ${operation} answered result.${field} that is not a string`, { provider: YUANSFER });
  }
  return value;
}

function required(result: Record<string, unknown>, field: string, operation: string): string {
  const value = text(result, field, operation);
  if (value === null) throw new ProviderResponseError(`Yuansfer ${operation} answered without result.${field}`, { provider: YUANSFER });
  return value;
}

/** The revoke seed's second example names the channel `customerBelongsTo`; the first calls it `vendor`. */
function vendorOf(result: Record<string, unknown>, operation: string): string | null {
  return text(result, 'vendor', operation) ?? text(result, 'customerBelongsTo', operation);
}

/** apply-token's expiry times are ISO-8601 with Yuansfer's +08:00 offset; anything else is unreadable. */
function time(result: Record<string, unknown>, field: string): Date | null {
  const value = text(result, field, 'apply-token');
  if (value === null) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ProviderResponseError(`Yuansfer apply-token answered result.${field} that is not a date-time`, { provider: YUANSFER });
  }
  return date;
}

/**
 * The Yuansfer auto-debit v3 client (docs/providers/yuansfer.md): JSON bodies signed with `verifySign`, one thin method per
 * endpoint over the shared pipeline.
 */
export class YuansferClient {
  private readonly pipeline: HttpPipeline;

  constructor(
    private readonly config: YuansferConfig,
    options: { logger?: Logger; breaker?: CircuitBreaker; observer?: ProviderCallObserver } = {},
  ) {
    this.pipeline = new HttpPipeline({
      provider: YUANSFER,
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs,
      retry: { maxRetries: config.maxRetries },
      logger: options.logger ?? silentLogger,
      breaker: options.breaker,
      observer: options.observer,
    });
  }

  /** The merchant and store every call uses unless told otherwise. */
  get merchantNo(): string {
    return this.config.merchantNo;
  }

  get storeNo(): string {
    return this.config.storeNo;
  }

  /** The API token checks IPNs too; the callback receiver asks for it here rather than reading the config. */
  get token(): string {
    return this.config.token;
  }

  private call(operation: string, params: Record<string, YuansferParamValue>, idempotent: boolean): Promise<Record<string, unknown>> {
    const sent = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
    return this.pipeline.call({
      operation,
      method: 'POST',
      path: `/auto-debit/v3/${operation}`,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      idempotent,
      body: () => JSON.stringify({ ...sent, verifySign: verifySign(sent, this.config.token) }),
      parse: readEnvelope,
    });
  }

  /** Starts an authorization: the payer is sent to `authUrl`; the IPN says when they agreed. Not repeated on failure. */
  async consult(request: ConsultRequest): Promise<ConsultResult> {
    const result = await this.call('consult', { ...request }, false);
    const authUrl = required(result, 'authUrl', 'consult');
    if (!/^https?:\/\//i.test(authUrl)) throw new ProviderResponseError('Yuansfer consult answered an authUrl that is not an http(s) URL', { provider: YUANSFER });
    const autoDebitNo = required(result, 'autoDebitNo', 'consult');
    if (!AUTO_DEBIT_NO.test(autoDebitNo)) throw new ProviderResponseError('Yuansfer consult answered an autoDebitNo that cannot be an id', { provider: YUANSFER });
    return {
      authUrl,
      autoDebitNo,
      autoReference: text(result, 'autoReference', 'consult'),
      vendor: vendorOf(result, 'consult'),
    };
  }

  /**
   * Exchanges the payer's authorization for a token (`AUTHORIZATION_CODE`) or extends one (`REFRESH_TOKEN`).
   * Yuansfer keeps the token itself; the answer carries its expiry times.
   */
  async applyToken(ref: AuthorizationRef, grantType: 'AUTHORIZATION_CODE' | 'REFRESH_TOKEN' = 'AUTHORIZATION_CODE'): Promise<TokenResult> {
    const result = await this.call('apply-token', { ...ref, grantType }, true);
    return {
      autoDebitNo: text(result, 'autoDebitNo', 'apply-token') ?? ref.autoDebitNo,
      autoReference: text(result, 'autoReference', 'apply-token'),
      vendor: vendorOf(result, 'apply-token'),
      accessTokenExpiryTime: time(result, 'accessTokenExpiryTime'),
      refreshTokenExpiryTime: time(result, 'refreshTokenExpiryTime'),
    };
  }

  /** Seed 004. A second revoke is refused (`000040`), so a failed attempt is not repeated blindly. */
  async revoke(ref: AuthorizationRef): Promise<RevokeResult> {
    const result = await this.call('revoke', { ...ref }, false);
    return {
      autoDebitNo: text(result, 'autoDebitNo', 'revoke') ?? ref.autoDebitNo,
      autoReference: text(result, 'autoReference', 'revoke'),
      vendor: vendorOf(result, 'revoke'),
    };
  }

  close(): void {
    this.pipeline.close();
  }
}
