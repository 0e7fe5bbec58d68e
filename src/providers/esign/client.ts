import type { EsignConfig } from '../../config';
import type { SignFlowStatus, UserError } from '../../domain/model';
import type { RescissionProvider, RescissionRequest } from '../../domain/rescission';
import { silentLogger, type Logger } from '../../logger';
import { ProviderNotFoundError, ProviderRateLimitError, ProviderResponseError, ProviderServerError } from '../errors';
import { HttpPipeline, parseJsonBody, type CircuitBreaker, type ProviderCallObserver, type OutgoingRequest, type ProviderResponse } from '../http';
import type { ProviderFlowSnapshot, RevokeRequest, SignFlowProvider } from '../types';
import { ESIGN, ESIGN_REVOKED, esignError, esignFlowStatus, rescissionBody } from './mapping';
import { canonicalPathAndQuery, esignRequestHeaders } from './signing';

/** `revokeReason` is at most 50 characters (docs/providers/esign.md "Revoke"). */
export const ESIGN_MAX_REVOKE_REASON = 50;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An integer, or a string of digits (the same field is an int in one answer and a string in another). */
function integer(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value)) return Number(value);
  return undefined;
}

/** Milliseconds since the epoch → Date; 0, absent or malformed → null (e签宝 sends 0 for "not yet"). */
export function esignTime(value: unknown): Date | null {
  const ms = integer(value);
  return ms === undefined || ms <= 0 ? null : new Date(ms);
}

/**
 * Validates the `{code, message, data}` envelope at the edge and decides on `code` (seed 003: never on the
 * message). Returns `data`; a non-zero code becomes the typed error mapping.ts assigns it.
 */
export function readEnvelope(response: ProviderResponse): unknown {
  if (response.status === 429) {
    throw new ProviderRateLimitError(`e签宝 answered HTTP 429`, { provider: ESIGN, httpStatus: 429 });
  }
  let body: unknown;
  try {
    body = parseJsonBody(ESIGN, response);
  } catch (error) {
    if (response.status >= 500) throw new ProviderServerError(`e签宝 answered HTTP ${response.status}`, { provider: ESIGN, httpStatus: response.status });
    throw error;
  }
  const code = isRecord(body) ? integer(body.code) : undefined;
  if (!isRecord(body) || code === undefined) {
    if (response.status >= 500) throw new ProviderServerError(`e签宝 answered HTTP ${response.status}`, { provider: ESIGN, httpStatus: response.status });
    throw new ProviderResponseError(`e签宝 answered HTTP ${response.status} without an integer code`, { provider: ESIGN, httpStatus: response.status });
  }
  if (code !== 0) {
    throw esignError(code, typeof body.message === 'string' ? body.message : '(no message)', response.status);
  }
  if (response.status >= 300) {
    throw new ProviderResponseError(`e签宝 answered code 0 with HTTP ${response.status}`, { provider: ESIGN, httpStatus: response.status });
  }
  return body.data;
}

/** The detail query's `data` → a snapshot, or a typed error naming the field that is wrong. */
export function parseFlowDetail(providerFlowId: string, data: unknown): ProviderFlowSnapshot {
  const fail = (message: string) => new ProviderResponseError(`e签宝 detail of ${providerFlowId}: ${message}`, { provider: ESIGN });
  if (!isRecord(data)) throw fail('data is not an object');
  const signFlowStatus = integer(data.signFlowStatus);
  if (signFlowStatus === undefined) throw fail('data.signFlowStatus is not an integer');
  let rescissionStatus: number | undefined;
  if (data.rescissionStatus !== undefined && data.rescissionStatus !== null) {
    rescissionStatus = integer(data.rescissionStatus);
    if (rescissionStatus === undefined) throw fail('data.rescissionStatus is not an integer');
  }
  const docs = data.docs ?? [];
  if (!Array.isArray(docs) || docs.some((d) => !isRecord(d) || typeof d.fileId !== 'string')) throw fail('data.docs is not a list of {fileId}');
  const rescissionSignFlowIds = data.rescissionSignFlowIds ?? [];
  if (!Array.isArray(rescissionSignFlowIds) || rescissionSignFlowIds.some((id) => typeof id !== 'string' && typeof id !== 'number')) {
    throw fail('data.rescissionSignFlowIds is not a list of ids');
  }
  const { status, providerStatus } = esignFlowStatus(signFlowStatus, rescissionStatus);
  return {
    providerFlowId,
    status,
    providerStatus,
    fileUrl: null,
    endedAt: esignTime(data.signFlowFinishTime),
    data: {
      fileIds: (docs as Array<{ fileId: string }>).map((d) => d.fileId),
      rescissionStatus: rescissionStatus ?? 0,
      rescissionSignFlowIds: rescissionSignFlowIds.map(String),
      ...(typeof data.signFlowDescription === 'string' ? { signFlowDescription: data.signFlowDescription } : {}),
    },
  };
}

/** Signing replaces headers whatever their case (the pipeline adds `accept: application/json` by default). */
function setHeaders(request: OutgoingRequest, headers: Record<string, string>): void {
  const names = new Set(Object.keys(headers).map((n) => n.toLowerCase()));
  for (const name of Object.keys(request.headers)) if (names.has(name.toLowerCase())) delete request.headers[name];
  Object.assign(request.headers, headers);
}

/**
 * The e签宝 open API v3 client: every request signed with HMAC-SHA256 over exactly the path and query it is sent
 * to (docs/providers/esign.md), the envelope decided on `code`. Endpoint methods are thin; the pipeline does the rest.
 */
export class EsignClient implements SignFlowProvider, RescissionProvider {
  readonly provider = 'ESIGN' as const;
  readonly maxFetchBatch = 20;
  private readonly pipeline: HttpPipeline;

  constructor(
    private readonly config: EsignConfig,
    options: { logger?: Logger; breaker?: CircuitBreaker; observer?: ProviderCallObserver } = {},
  ) {
    this.pipeline = new HttpPipeline({
      provider: ESIGN,
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs,
      retry: { maxRetries: config.maxRetries },
      logger: options.logger ?? silentLogger,
      breaker: options.breaker,
      observer: options.observer,
    });
  }

  /**
   * One signed call. The path and query built here are both what is signed and what is sent; the signature and its
   * timestamp are made afresh on every attempt.
   */
  private call(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    body: Record<string, unknown> | undefined,
    idempotent: boolean,
    query?: Record<string, string | undefined>,
  ): Promise<unknown> {
    const json = body === undefined ? undefined : JSON.stringify(body);
    return this.pipeline.call({
      operation,
      method,
      path: canonicalPathAndQuery(path, query),
      idempotent,
      body: json === undefined ? undefined : () => json,
      sign: (request) =>
        setHeaders(
          request,
          esignRequestHeaders({
            appId: this.config.appId,
            appSecret: this.config.appSecret,
            method: request.method,
            pathAndQuery: request.pathAndQuery,
            body: request.body,
            timestamp: Date.now(),
          }),
        ),
      parse: readEnvelope,
    });
  }

  private static flowPath(providerFlowId: string, action: string): string {
    return `/v3/sign-flow/${encodeURIComponent(providerFlowId)}/${action}`;
  }

  validateRevoke(request: RevokeRequest): UserError[] {
    const errors: UserError[] = [];
    if (request.reason && [...request.reason].length > ESIGN_MAX_REVOKE_REASON) {
      errors.push({ code: 'INVALID_INPUT', field: ['reason'], message: `reason must be at most ${ESIGN_MAX_REVOKE_REASON} characters for an e签宝 flow` });
    }
    // etcMemberNo and cancelMessageFormat belong to other providers; a batch over several providers carries them
    // for every flow, so they are ignored here rather than refused.
    return errors;
  }

  /** `POST /v3/sign-flow/{id}/revoke`. Not repeated on a timeout: a second revoke of a revoked flow is a refusal. */
  async revoke(request: RevokeRequest): Promise<{ status: SignFlowStatus; providerStatus: string }> {
    const reason = request.reason?.trim();
    await this.call('revoke', 'POST', EsignClient.flowPath(request.providerFlowId, 'revoke'), reason ? { revokeReason: reason } : {}, false);
    return { status: 'REVOKED', providerStatus: ESIGN_REVOKED };
  }

  /** `GET /v3/sign-flow/{id}/detail`: the flow as e签宝 knows it; undefined when it does not. */
  async detail(providerFlowId: string): Promise<ProviderFlowSnapshot | undefined> {
    let data: unknown;
    try {
      data = await this.call('detail', 'GET', EsignClient.flowPath(providerFlowId, 'detail'), undefined, true);
    } catch (error) {
      if (error instanceof ProviderNotFoundError) return undefined;
      throw error;
    }
    return parseFlowDetail(providerFlowId, data);
  }

  /** e签宝 has no batch detail: one call per id, a few at a time. */
  async fetchFlows(providerFlowIds: readonly string[]): Promise<Map<string, ProviderFlowSnapshot>> {
    const found = new Map<string, ProviderFlowSnapshot>();
    const queue = [...new Set(providerFlowIds)];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const snapshot = await this.detail(id);
        if (snapshot) found.set(id, snapshot);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
    return found;
  }

  /** `POST /v3/sign-flow/{id}/initiate-rescission` (seed 003); `data.signFlowId` is the agreement's new flow. */
  async initiateRescission(request: RescissionRequest): Promise<{ rescissionFlowId: string }> {
    const data = await this.call(
      'initiate-rescission',
      'POST',
      EsignClient.flowPath(request.providerFlowId, 'initiate-rescission'),
      rescissionBody(request),
      false,
    );
    if (!isRecord(data) || typeof data.signFlowId !== 'string' || !/^[A-Za-z0-9_\-.]{1,64}$/.test(data.signFlowId)) {
      throw new ProviderResponseError('e签宝 initiate-rescission answered code 0 without a data.signFlowId', { provider: ESIGN });
    }
    return { rescissionFlowId: data.signFlowId };
  }

  close(): void {
    this.pipeline.close();
  }
}
