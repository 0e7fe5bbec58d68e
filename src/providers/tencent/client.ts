import type { TencentConfig } from '../../config';
import { UserErrorCode, type SignFlowStatus, type UserError } from '../../domain/model';
import { silentLogger, type Logger } from '../../logger';
import { ProviderResponseError, ProviderServerError } from '../errors';
import { HttpPipeline, parseJsonBody, type CircuitBreaker, type ProviderCallObserver, type ProviderResponse } from '../http';
import { InMemoryRateLimiter, type RateLimiter } from '../rate-limit';
import type { ProviderFlowSnapshot, RevokeRequest, SignFlowProvider } from '../types';
import { TENCENT, TENCENT_CANCELLED, isTencentFlowStatus, tencentError, tencentStatus } from './mapping';
import { tc3Sign } from './signing';
import {
  ESS_CONTENT_TYPE,
  ESS_MAX_FLOW_IDS,
  ESS_SERVICE,
  ESS_VERSION,
  cancelMessageProblem,
  checkCancelTaskResult,
  isRecord,
  type CancelFlowsTaskResult,
  type EssAgent,
} from './wire';

/** What the client sends as CancelMessage / CancelMessageFormat. */
export interface CancelOptions {
  reason?: string | null;
  /** 0–3 (seed 002). */
  cancelMessageFormat?: number | null;
  /** The proxy organisation and operator acting (the caller's, docs/security.md); absent: the configured Agent. */
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | null;
}

export interface BatchCancelAnswer {
  providerTaskId: string;
  /** Aligned with the flow ids sent: null = accepted, otherwise Tencent's reason for refusing that flow. */
  failures: (string | null)[];
  requestId?: string;
}

/** Tencent's documented default: 20 requests per second for each action (seed 002). */
export const ESS_RATE_PER_SECOND = 20;

/** Validates the `Response` envelope at the edge; `Response.Error` becomes a typed error (mapping.ts). */
export function readResponse(response: ProviderResponse): Record<string, unknown> {
  if (response.status >= 500) {
    throw new ProviderServerError(`Tencent ESS answered HTTP ${response.status}`, { provider: TENCENT, httpStatus: response.status });
  }
  const body = parseJsonBody(TENCENT, response);
  if (!isRecord(body) || !isRecord(body.Response)) {
    throw new ProviderResponseError(`Tencent ESS answered HTTP ${response.status} without a Response object`, { provider: TENCENT, httpStatus: response.status });
  }
  const r = body.Response;
  const requestId = typeof r.RequestId === 'string' ? r.RequestId : undefined;
  if (r.Error !== undefined && r.Error !== null) {
    if (!isRecord(r.Error) || typeof r.Error.Code !== 'string') {
      throw new ProviderResponseError('Tencent ESS answered a Response.Error without a Code string', { provider: TENCENT, requestId });
    }
    throw tencentError(r.Error.Code, typeof r.Error.Message === 'string' ? r.Error.Message : '(no message)', requestId);
  }
  if (response.status !== 200) {
    throw new ProviderResponseError(`Tencent ESS answered HTTP ${response.status} without a Response.Error`, { provider: TENCENT, httpStatus: response.status, requestId });
  }
  return r;
}

function bad(message: string, requestId?: unknown): ProviderResponseError {
  return new ProviderResponseError(`Tencent ESS ${message}`, { provider: TENCENT, requestId: typeof requestId === 'string' ? requestId : undefined });
}

/**
 * The Tencent Electronic Signature platform-edition client (docs/providers/tencent.md, seed 002): every call `POST /` with the
 * action in `X-TC-Action`, signed with TC3-HMAC-SHA256 afresh on each attempt, paced per action by a token bucket
 * (shared between replicas when the limiter is Redis), answers validated at the edge.
 */
export class TencentClient implements SignFlowProvider {
  readonly provider = 'TENCENT_ESS' as const;
  readonly maxFetchBatch = ESS_MAX_FLOW_IDS;
  readonly batchedFetch = true;
  readonly maxCancelBatch = ESS_MAX_FLOW_IDS;
  readonly cancelledStatus = TENCENT_CANCELLED;
  private readonly pipeline: HttpPipeline;
  private readonly limiter: RateLimiter;
  private readonly ownsLimiter: boolean;
  private readonly agent: EssAgent;
  private readonly now: () => number;

  constructor(
    private readonly config: TencentConfig,
    options: { logger?: Logger; breaker?: CircuitBreaker; observer?: ProviderCallObserver; limiter?: RateLimiter; now?: () => number } = {},
  ) {
    this.pipeline = new HttpPipeline({
      provider: TENCENT,
      baseUrl: config.endpoint,
      timeoutMs: config.timeoutMs,
      retry: { maxRetries: config.maxRetries },
      logger: options.logger ?? silentLogger,
      breaker: options.breaker,
      observer: options.observer,
    });
    this.ownsLimiter = options.limiter === undefined;
    this.limiter = options.limiter ?? new InMemoryRateLimiter({ ratePerSecond: config.ratePerSecond, burst: 1 });
    this.agent = { AppId: config.appId, ProxyOrganizationOpenId: config.proxyOrganizationOpenId, ProxyOperator: { OpenId: config.proxyOperatorOpenId } };
    this.now = options.now ?? Date.now;
  }

  /** The bucket one action's calls share: per application, since Tencent counts per account and action. */
  rateLimitKey(action: string): string {
    return `tencent-ess:${this.config.appId}:${action}`;
  }

  /**
   * One action. A token is taken before the first attempt (outside the call's deadline, so a long queue does not
   * time calls out) and again before each retry, so retries count against the rate too.
   */
  private async call(
    action: string,
    params: Record<string, unknown>,
    idempotent: boolean,
    signal?: AbortSignal,
    acting?: CancelOptions['tencentAgent'],
  ): Promise<Record<string, unknown>> {
    const key = this.rateLimitKey(action);
    const agent: EssAgent = acting
      ? { AppId: this.config.appId, ProxyOrganizationOpenId: acting.proxyOrganizationOpenId, ProxyOperator: { OpenId: acting.proxyOperatorOpenId } }
      : this.agent;
    await this.limiter.acquire(key, 1, signal);
    let first = true;
    return this.pipeline.call({
      operation: action,
      method: 'POST',
      path: '/',
      headers: { 'content-type': ESS_CONTENT_TYPE, 'x-tc-action': action, 'x-tc-version': ESS_VERSION },
      idempotent,
      body: () => JSON.stringify({ Agent: agent, ...params }),
      sign: async (request) => {
        if (!first) await this.limiter.acquire(key, 1, signal);
        first = false;
        const timestamp = Math.floor(this.now() / 1000);
        const signature = tc3Sign({
          secretId: this.config.secretId,
          secretKey: this.config.secretKey,
          service: ESS_SERVICE,
          host: new URL(request.url).host,
          action,
          timestamp,
          contentType: ESS_CONTENT_TYPE,
          body: request.body ?? '',
        });
        request.headers['x-tc-timestamp'] = String(timestamp);
        request.headers.authorization = signature.authorization;
        if (this.config.region) request.headers['x-tc-region'] = this.config.region;
      },
      parse: readResponse,
    });
  }

  private cancelParams(options: CancelOptions): Record<string, unknown> {
    const params: Record<string, unknown> = {};
    // Left out when empty, so Tencent applies its own default reason (seed 002).
    if (options.reason && options.reason.trim() !== '') params.CancelMessage = options.reason;
    if (options.cancelMessageFormat !== undefined && options.cancelMessageFormat !== null) params.CancelMessageFormat = options.cancelMessageFormat;
    return params;
  }

  /** The documented limits of CancelMessage and CancelMessageFormat, checked before any call. */
  validateCancel(options: CancelOptions): UserError[] {
    const errors: UserError[] = [];
    if (options.reason && options.reason.trim() !== '') {
      const problem = cancelMessageProblem(options.reason);
      if (problem) errors.push({ code: UserErrorCode.INVALID_INPUT, field: ['reason'], message: `reason ${problem} for a Tencent flow` });
    }
    const format = options.cancelMessageFormat;
    if (format !== undefined && format !== null && !(Number.isInteger(format) && format >= 0 && format <= 3)) {
      errors.push({ code: UserErrorCode.INVALID_INPUT, field: ['cancelMessageFormat'], message: 'cancelMessageFormat must be 0 to 3' });
    }
    return errors;
  }

  validateRevoke(request: RevokeRequest): UserError[] {
    const errors = this.validateCancel(request);
    if (request.etcMemberNo !== undefined && request.etcMemberNo !== null) {
      errors.push({ code: UserErrorCode.INVALID_INPUT, field: ['etcMemberNo'], message: 'etcMemberNo applies to ETC flows only' });
    }
    return errors;
  }

  /** ChannelCancelFlow: cancels one unfinished flow. Not idempotent: a repeat would be refused as already cancelled. */
  async revoke(request: RevokeRequest): Promise<{ status: SignFlowStatus; providerStatus: string }> {
    await this.call('ChannelCancelFlow', { FlowId: request.providerFlowId, ...this.cancelParams(request) }, false, undefined, request.tencentAgent);
    return { status: 'REVOKED', providerStatus: TENCENT_CANCELLED };
  }

  /**
   * ChannelBatchCancelFlows (seed 002): at most 100 flows. `FailMessages` comes aligned with `""` for accepted flows,
   * or empty when every flow was accepted; both forms are read into one aligned list.
   */
  async cancelBatch(providerFlowIds: readonly string[], options: CancelOptions, signal?: AbortSignal): Promise<BatchCancelAnswer> {
    if (providerFlowIds.length === 0 || providerFlowIds.length > ESS_MAX_FLOW_IDS) {
      throw new RangeError(`ChannelBatchCancelFlows takes 1 to ${ESS_MAX_FLOW_IDS} flow ids, got ${providerFlowIds.length}`);
    }
    const r = await this.call('ChannelBatchCancelFlows', { FlowIds: providerFlowIds, ...this.cancelParams(options) }, false, signal, options.tencentAgent);
    if (typeof r.TaskId !== 'string' || r.TaskId === '') throw bad('ChannelBatchCancelFlows answered without a TaskId string', r.RequestId);
    const messages = r.FailMessages ?? [];
    if (!Array.isArray(messages) || messages.some((m) => typeof m !== 'string')) {
      throw bad('ChannelBatchCancelFlows answered FailMessages that is not an array of strings', r.RequestId);
    }
    if (messages.length !== 0 && messages.length !== providerFlowIds.length) {
      throw bad(`ChannelBatchCancelFlows answered ${messages.length} FailMessages for ${providerFlowIds.length} flows`, r.RequestId);
    }
    const failures = providerFlowIds.map((_, i) => {
      const message = (messages[i] as string | undefined) ?? '';
      return message === '' ? null : message;
    });
    return { providerTaskId: r.TaskId, failures, requestId: typeof r.RequestId === 'string' ? r.RequestId : undefined };
  }

  /** DescribeCancelFlowsTask: the batch-cancel task's result so far. */
  async describeCancelTask(providerTaskId: string, signal?: AbortSignal, agent?: CancelOptions['tencentAgent']): Promise<CancelFlowsTaskResult> {
    const r = await this.call('DescribeCancelFlowsTask', { TaskId: providerTaskId }, true, signal, agent);
    const checked = checkCancelTaskResult(r, 'DescribeCancelFlowsTask answered ');
    if (!checked.ok) throw bad(checked.message, r.RequestId);
    return { ...checked.value, taskId: checked.value.taskId ?? providerTaskId };
  }

  /** DescribeFlowDetailInfo for up to 100 flows; ids Tencent does not know are absent from the map. */
  async fetchFlows(providerFlowIds: readonly string[], signal?: AbortSignal): Promise<Map<string, ProviderFlowSnapshot>> {
    const found = new Map<string, ProviderFlowSnapshot>();
    const ids = [...new Set(providerFlowIds)];
    if (ids.length === 0) return found;
    if (ids.length > ESS_MAX_FLOW_IDS) throw new RangeError(`DescribeFlowDetailInfo takes at most ${ESS_MAX_FLOW_IDS} flow ids, got ${ids.length}`);
    const r = await this.call('DescribeFlowDetailInfo', { FlowIds: ids }, true, signal);
    const infos = r.FlowInfo ?? [];
    if (!Array.isArray(infos)) throw bad('DescribeFlowDetailInfo answered FlowInfo that is not an array', r.RequestId);
    const asked = new Set(ids);
    for (const [i, info] of infos.entries()) {
      if (!isRecord(info) || typeof info.FlowId !== 'string' || typeof info.FlowStatus !== 'string') {
        throw bad(`DescribeFlowDetailInfo answered FlowInfo[${i}] without FlowId and FlowStatus strings`, r.RequestId);
      }
      if (!asked.has(info.FlowId)) continue;
      const known = isTencentFlowStatus(info.FlowStatus);
      found.set(info.FlowId, {
        providerFlowId: info.FlowId,
        // A status Tencent adds later is kept as the provider's code and read as UNKNOWN, not refused.
        status: known ? tencentStatus(info.FlowStatus as Parameters<typeof tencentStatus>[0]) : 'UNKNOWN',
        providerStatus: info.FlowStatus,
        data: {
          flowName: typeof info.FlowName === 'string' ? info.FlowName : null,
          flowMessage: typeof info.FlowMessage === 'string' && info.FlowMessage !== '' ? info.FlowMessage : null,
          createdOn: typeof info.CreateOn === 'number' ? new Date(info.CreateOn * 1000).toISOString() : null,
          deadline: typeof info.DeadLine === 'number' && info.DeadLine > 0 ? new Date(info.DeadLine * 1000).toISOString() : null,
        },
      });
    }
    return found;
  }

  async close(): Promise<void> {
    this.pipeline.close();
    if (this.ownsLimiter) await this.limiter.close();
  }
}
