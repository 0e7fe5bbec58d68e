import { randomUUID, type KeyObject } from 'crypto';
import { canonicalString, verifySignature } from './signature';

/**
 * The ETC gateway's checks, transport-free: a parsed body and the time in, an envelope out
 * (docs/providers/etc.md, "Request" and "Response envelope").
 */

/** Documented gateway codes. */
export const GATEWAY_CODES = {
  SUCCESS: '000',
  MISSING_PARAMETER: '400',
  BAD_APP_ID: '400001',
  API_DISABLED: '400002',
  BAD_SIGNATURE: '401001',
  NO_PERMISSION: '401002',
  TIMESTAMP_OUT_OF_WINDOW: '403001',
  REPEATED_REQUEST: '403002',
  UNKNOWN_API: '404001',
  SYSTEM_ERROR: '500',
} as const;

/**
 * Business failures of the flow operations. ETC does not publish these codes, so they are inferred: distinct from
 * every gateway code and from success, so a client can never mistake a refusal for `revokeResult: false`.
 */
export const BUSINESS_CODES = {
  FLOW_NOT_FOUND: '300001',
  FLOW_STATE_FORBIDS_REVOKE: '300002',
} as const;

/** "timestamp … rejected when more than 30 s from server time". */
export const TIMESTAMP_WINDOW_MS = 30_000;
/** "the gateway rejects a nonce seen in the last 60 s". */
export const NONCE_WINDOW_MS = 60_000;

export interface EtcEnvelope {
  requestId: string;
  responseCode: string;
  responseMsg: string;
  data: unknown;
}

export function envelope(responseCode: string, responseMsg: string, data: unknown = null): EtcEnvelope {
  return { requestId: randomUUID(), responseCode, responseMsg, data };
}

export type OperationOutcome = { ok: true; data: unknown } | { ok: false; code: string; message: string };

export interface ParamRule {
  name: string;
  required: boolean;
  maxLength: number;
}

export interface EtcOperation {
  /** String parameters, checked in order before `run` (seed 000 gives required flags and maximum lengths). */
  params: readonly ParamRule[];
  run(params: Record<string, string | undefined>): OperationOutcome;
}

/** Nonces seen per application in the last 60 s. */
export class NonceBook {
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(private readonly windowMs = NONCE_WINDOW_MS) {}

  /** True when `nonce` was used by `appId` within the window before `now`; otherwise remembers it. */
  replayed(appId: string, nonce: string, now: number): boolean {
    const book = this.seen.get(appId) ?? new Map<string, number>();
    this.seen.set(appId, book);
    for (const [old, at] of book) if (now - at >= this.windowMs) book.delete(old);
    const at = book.get(nonce);
    if (at !== undefined && now - at < this.windowMs) return true;
    book.set(nonce, now);
    return false;
  }

  clear(): void {
    this.seen.clear();
  }
}

export interface GatewayDeps {
  now: number;
  publicKeyFor(appId: string): KeyObject | undefined;
  nonces: NonceBook;
  operations: Readonly<Record<string, EtcOperation>>;
}

const REQUIRED_FIELDS = ['appId', 'nonce', 'timestamp', 'apiCode', 'params', 'sign'] as const;
const STRING_FIELDS = ['appId', 'nonce', 'apiCode', 'sign'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

const characters = (value: string): number => [...value].length;

/**
 * Runs a gateway request through the checks in the gateway's order: shape (400), appId (400001), signature
 * (401001), timestamp (403001), nonce (403002), apiCode (404001), the operation's parameters (400), the operation.
 */
export function handleGateway(body: unknown, deps: GatewayDeps): EtcEnvelope {
  if (!isObject(body)) return envelope(GATEWAY_CODES.MISSING_PARAMETER, '请求体必须是 JSON 对象');
  for (const field of REQUIRED_FIELDS) {
    if (isBlank(body[field])) return envelope(GATEWAY_CODES.MISSING_PARAMETER, `缺少必要参数: ${field}`);
  }
  for (const field of STRING_FIELDS) {
    if (typeof body[field] !== 'string') {
      return envelope(GATEWAY_CODES.MISSING_PARAMETER, `参数格式错误: ${field} 必须是字符串`);
    }
  }
  if (typeof body.timestamp !== 'number' && typeof body.timestamp !== 'string') {
    return envelope(GATEWAY_CODES.MISSING_PARAMETER, '参数格式错误: timestamp 必须是13位毫秒时间戳');
  }
  if (!isObject(body.params)) return envelope(GATEWAY_CODES.MISSING_PARAMETER, '参数格式错误: params 必须是 JSON 对象');
  const appId = body.appId as string;
  const nonce = body.nonce as string;
  const apiCode = body.apiCode as string;
  if (characters(nonce) !== 6) return envelope(GATEWAY_CODES.MISSING_PARAMETER, '参数格式错误: nonce 必须是6位字符');

  const publicKey = deps.publicKeyFor(appId);
  if (!publicKey) return envelope(GATEWAY_CODES.BAD_APP_ID, `appId 不存在: ${appId}`);

  const signed = canonicalString({ appId, nonce, timestamp: body.timestamp, apiCode, params: body.params });
  if (!verifySignature(signed, body.sign as string, publicKey)) {
    return envelope(GATEWAY_CODES.BAD_SIGNATURE, '签名验证失败');
  }

  const timestamp = String(body.timestamp);
  if (!/^\d{13}$/.test(timestamp) || Math.abs(deps.now - Number(timestamp)) > TIMESTAMP_WINDOW_MS) {
    return envelope(GATEWAY_CODES.TIMESTAMP_OUT_OF_WINDOW, '时间戳无效或已过期(与服务器时间相差超过30秒)');
  }

  if (deps.nonces.replayed(appId, nonce, deps.now)) {
    return envelope(GATEWAY_CODES.REPEATED_REQUEST, '重复请求: nonce 在60秒内已使用');
  }

  const operation = Object.prototype.hasOwnProperty.call(deps.operations, apiCode) ? deps.operations[apiCode] : undefined;
  if (!operation) return envelope(GATEWAY_CODES.UNKNOWN_API, `接口不存在: ${apiCode}`);

  const params = body.params;
  const values: Record<string, string | undefined> = {};
  for (const rule of operation.params) {
    const value = params[rule.name];
    if (isBlank(value)) {
      if (rule.required) return envelope(GATEWAY_CODES.MISSING_PARAMETER, `缺少必要参数: ${rule.name}`);
      values[rule.name] = undefined;
      continue;
    }
    if (typeof value !== 'string') {
      return envelope(GATEWAY_CODES.MISSING_PARAMETER, `参数格式错误: ${rule.name} 必须是字符串`);
    }
    if (characters(value) > rule.maxLength) {
      return envelope(GATEWAY_CODES.MISSING_PARAMETER, `参数超长: ${rule.name} 最大长度 ${rule.maxLength}`);
    }
    values[rule.name] = value;
  }

  const outcome = operation.run(values);
  return outcome.ok ? envelope(GATEWAY_CODES.SUCCESS, '成功', outcome.data) : envelope(outcome.code, outcome.message);
}
