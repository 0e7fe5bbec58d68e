import type { EtcConfig } from '../../config';
import type { SignFlowStatus, UserError } from '../../domain/model';
import { silentLogger, type Logger } from '../../logger';
import { ProviderBusinessError, ProviderNotFoundError, ProviderResponseError } from '../errors';
import { HttpPipeline, parseJsonBody, type CircuitBreaker, type ProviderCallObserver, type ProviderResponse } from '../http';
import type { ProviderFlowSnapshot, RevokeRequest, SignFlowProvider } from '../types';
import { ETC, ETC_REVOKED, etcError, etcStatus } from './mapping';
import { etcNonce, etcSign, etcStringToSign } from './signing';

/** Seed 000: each revoke parameter is at most 64 characters; the reason defaults to "撤销". */
export const ETC_MAX_PARAM_LENGTH = 64;
export const ETC_DEFAULT_REVOKE_REASON = '撤销';

export interface EtcEnvelope<T> {
  requestId?: string;
  responseCode: string;
  responseMsg?: string;
  data?: T;
}

export interface EtcFlowDetail {
  flowId: string;
  flowStatus: number;
  flowStartTime?: string | null;
  flowEndTime?: string | null;
  flowDesc?: string | null;
  businessScene?: string | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates the gateway envelope at the edge and turns a non-`000` code into a typed error. */
export function readEnvelope(response: ProviderResponse): Record<string, unknown> | undefined {
  if (response.status >= 500) {
    throw etcError('500', `HTTP ${response.status}`);
  }
  const body = parseJsonBody(ETC, response);
  if (!isRecord(body) || typeof body.responseCode !== 'string') {
    throw new ProviderResponseError(`ETC answered HTTP ${response.status} without a responseCode string`, { provider: ETC, httpStatus: response.status });
  }
  const requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
  if (body.responseCode !== '000') {
    throw etcError(body.responseCode, typeof body.responseMsg === 'string' ? body.responseMsg : '(no message)', requestId);
  }
  if (body.data !== undefined && body.data !== null && !isRecord(body.data)) {
    throw new ProviderResponseError('ETC answered responseCode 000 with a data field that is not an object', { provider: ETC, requestId });
  }
  return (body.data ?? undefined) as Record<string, unknown> | undefined;
}

/** "YYYY-MM-DD HH:mm:ss" in China time (UTC+8), the gateway's time format. */
export function parseChinaTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value.trim());
  if (!m) return null;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * The ETC e-sign gateway client: one endpoint, the operation chosen by `apiCode`, each request an envelope
 * signed with SHA1withRSA (docs/providers/etc.md). Endpoint methods are thin; the pipeline does the rest.
 */
export class EtcClient implements SignFlowProvider {
  readonly provider = 'ETC' as const;
  readonly maxFetchBatch = 20;
  private readonly pipeline: HttpPipeline;

  constructor(
    private readonly config: EtcConfig,
    options: { logger?: Logger; breaker?: CircuitBreaker; observer?: ProviderCallObserver } = {},
  ) {
    this.pipeline = new HttpPipeline({
      provider: ETC,
      baseUrl: config.gatewayUrl,
      timeoutMs: config.timeoutMs,
      retry: { maxRetries: config.maxRetries },
      logger: options.logger ?? silentLogger,
      breaker: options.breaker,
      observer: options.observer,
    });
  }

  /** Calls one gateway operation. Retried only where `idempotent` allows; every attempt gets a new nonce. */
  private call(apiCode: string, params: Record<string, unknown>, idempotent: boolean): Promise<Record<string, unknown> | undefined> {
    return this.pipeline.call({
      operation: apiCode,
      method: 'POST',
      path: '',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      idempotent,
      body: () => {
        const envelope = { appId: this.config.appId, nonce: etcNonce(), timestamp: Date.now(), apiCode, params };
        return JSON.stringify({ ...envelope, sign: etcSign(etcStringToSign(envelope), this.config.privateKey) });
      },
      parse: readEnvelope,
    });
  }

  validateRevoke(request: RevokeRequest): UserError[] {
    const errors: UserError[] = [];
    const tooLong = (value: string | null | undefined, field: string) => {
      if (value && [...value].length > ETC_MAX_PARAM_LENGTH) {
        errors.push({ code: 'INVALID_INPUT', field: [field], message: `${field} must be at most ${ETC_MAX_PARAM_LENGTH} characters for an ETC flow` });
      }
    };
    if (!request.etcMemberNo || request.etcMemberNo.trim() === '') {
      errors.push({ code: 'INVALID_INPUT', field: ['etcMemberNo'], message: 'etcMemberNo is required to revoke an ETC flow (the ETC user number, etc_member_no)' });
    }
    tooLong(request.etcMemberNo, 'etcMemberNo');
    tooLong(request.reason, 'reason');
    tooLong(request.providerFlowId, 'id');
    if (request.cancelMessageFormat !== undefined && request.cancelMessageFormat !== null) {
      errors.push({ code: 'INVALID_INPUT', field: ['cancelMessageFormat'], message: 'cancelMessageFormat applies to Tencent flows only' });
    }
    return errors;
  }

  /** esign.signflows.revoke (seed 000). `revokeResult: false` is a refusal too. */
  async revoke(request: RevokeRequest): Promise<{ status: SignFlowStatus; providerStatus: string }> {
    const data = await this.call(
      'esign.signflows.revoke',
      {
        flowId: request.providerFlowId,
        etc_member_no: request.etcMemberNo,
        revokeReason: request.reason && request.reason.trim() !== '' ? request.reason : ETC_DEFAULT_REVOKE_REASON,
      },
      false,
    );
    if (typeof data?.revokeResult !== 'boolean') {
      throw new ProviderResponseError('ETC revoke answered 000 without a boolean data.revokeResult', { provider: ETC });
    }
    if (!data.revokeResult) {
      throw new ProviderBusinessError('ETC refused to revoke the flow (revokeResult false)', { provider: ETC });
    }
    return { status: 'REVOKED', providerStatus: ETC_REVOKED };
  }

  /** esign.signflows.query: the flow as the gateway knows it; undefined when it does not. */
  async query(providerFlowId: string): Promise<ProviderFlowSnapshot | undefined> {
    let data: Record<string, unknown> | undefined;
    try {
      data = await this.call('esign.signflows.query', { flowId: providerFlowId }, true);
    } catch (error) {
      if (error instanceof ProviderNotFoundError) return undefined;
      throw error;
    }
    if (!data || (typeof data.flowStatus !== 'number' && typeof data.flowStatus !== 'string')) {
      throw new ProviderResponseError('ETC query answered 000 without data.flowStatus', { provider: ETC });
    }
    const code = String(data.flowStatus);
    return {
      providerFlowId,
      status: etcStatus(code),
      providerStatus: code,
      endedAt: parseChinaTime(data.flowEndTime),
      data: {
        flowStartTime: data.flowStartTime ?? null,
        flowDesc: data.flowDesc ?? null,
        businessScene: data.businessScene ?? null,
      },
    };
  }

  /** The gateway has no batch query: one call per id, a few at a time. */
  async fetchFlows(providerFlowIds: readonly string[]): Promise<Map<string, ProviderFlowSnapshot>> {
    const found = new Map<string, ProviderFlowSnapshot>();
    const queue = [...new Set(providerFlowIds)];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const snapshot = await this.query(id);
        if (snapshot) found.set(id, snapshot);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
    return found;
  }

  close(): void {
    this.pipeline.close();
  }
}
