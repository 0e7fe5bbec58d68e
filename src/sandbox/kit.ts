import { randomUUID } from 'crypto';
import http, { type IncomingHttpHeaders } from 'http';
import https from 'https';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import fetch from 'node-fetch';
import { SIGN_FLOW_STATUSES, type SignFlowStatus } from '../domain/model';
import { type Logger, redactUrl, silentLogger } from '../logger';
import { adminAccess, type SandboxAccessOptions } from './access';
import { createConsoleRouter } from './console';

/**
 * Machinery shared by every provider emulator: request log, fault book, callback sender, admin API and the
 * handler wrapper that ties them together. An emulator only knows its provider's wire format; everything an
 * operator or a test controls (faults, flows, resets) and everything they inspect (requests, callbacks) is here.
 */

// ---------------------------------------------------------------------------------------------------------------
// Names

export const PROVIDER_NAMES = ['etc', 'tencent', 'esign', 'yuansfer'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** The API's provider-neutral statuses; admin bodies use these names whatever the provider's own codes are. */
export type SignFlowStatusName = SignFlowStatus;
export { SIGN_FLOW_STATUSES };

export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === 'string' && (PROVIDER_NAMES as readonly string[]).includes(value);
}

export function isSignFlowStatus(value: unknown): value is SignFlowStatusName {
  return typeof value === 'string' && (SIGN_FLOW_STATUSES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Time

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

const CHINA_OFFSET_MS = 8 * 3600_000;

/** `YYYY-MM-DD HH:mm:ss` in China time (UTC+8, no daylight saving), the format ETC and Yuansfer put on the wire. */
export function formatChinaTime(ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Timers that `reset()`/`close()` can cancel all at once. A cancelled `sleep` resolves `false` rather than never,
 * so whoever awaits it can finish its bookkeeping.
 */
export class TimerSet {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(true);
      }, ms);
      this.pending.set(timer, () => resolve(false));
    });
  }

  get size(): number {
    return this.pending.size;
  }

  cancelAll(): void {
    for (const [timer, cancel] of this.pending) {
      clearTimeout(timer);
      cancel();
    }
    this.pending.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Admin errors

/** Thrown by admin handlers and emulators' admin hooks; the admin router turns it into `{ error, field? }`. */
export class AdminError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export const badRequest = (message: string, field?: string): AdminError => new AdminError(400, message, field);
export const notFound = (message: string): AdminError => new AdminError(404, message);
export const conflict = (message: string, field?: string): AdminError => new AdminError(409, message, field);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses any key outside `allowed`, naming it: a misspelt `cout` must not silently become a permanent fault. */
function rejectUnknownFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw badRequest(`unknown field "${key}"; allowed: ${allowed.join(', ')}`, key);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Request log

export interface RequestRecord {
  id: number;
  /** ISO-8601, from the sandbox clock. */
  at: string;
  method: string;
  /** Path relative to the emulator's mount, with the query string. */
  path: string;
  /** apiCode, X-TC-Action, … as the emulator names it; null when it could not tell. */
  operation: string | null;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the body is JSON, else the text (form bodies stay as sent). */
  body: unknown;
  /** null while the answer is pending, and forever for a request held by a timeout fault. */
  status: number | null;
  response: unknown;
  /** Id of each fault applied to this request. */
  faults: string[];
}

export class RequestLog {
  private readonly byProvider = new Map<ProviderName, RequestRecord[]>();
  private nextId = 1;

  /** @param limit records kept per provider; older ones are forgotten first. */
  constructor(readonly limit = 1000) {}

  add(provider: ProviderName, record: Omit<RequestRecord, 'id'>): RequestRecord {
    const list = this.byProvider.get(provider) ?? [];
    const stored: RequestRecord = { id: this.nextId++, ...record };
    list.push(stored);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.byProvider.set(provider, list);
    return stored;
  }

  /** Oldest first, newest last. */
  list(provider: ProviderName): readonly RequestRecord[] {
    return this.byProvider.get(provider) ?? [];
  }

  clear(): void {
    this.byProvider.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fault book

export const FAULT_KINDS = ['latency', 'error', 'timeout', 'rate-limit', 'drop-callback'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  provider: ProviderName;
  kind: FaultKind;
  /** Operation name (apiCode, X-TC-Action, …) or, for drop-callback, a callback's event name or flow id. Absent = any. */
  match?: string;
  /** How many times it applies; absent = until cleared. */
  count?: number;
  /** latency only: delay before the answer. */
  ms?: number;
  /**
   * latency only: `request` (default) holds the request before the emulator acts on it; `response` acts on it at
   * once (its callbacks may go out) and holds only the answer, as a slow network back to the client would.
   */
  phase?: 'request' | 'response';
  /** error only: the provider's error code; the emulator picks its default (ETC "500"). */
  code?: string;
  /** error only: the provider's error message; the emulator picks its default. */
  message?: string;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Uses left; absent when the fault applies until cleared. */
  remaining?: number;
  createdAt: string;
}

const FAULT_FIELDS = ['provider', 'kind', 'match', 'count', 'ms', 'phase', 'code', 'message'] as const;
const MAX_LATENCY_MS = 10 * 60_000;

/**
 * Validates a `POST /_admin/faults` body. Throws a 400 naming the first offending field.
 * @param available providers that have an emulator in this sandbox
 */
export function parseFaultSpec(body: unknown, available: readonly ProviderName[] = PROVIDER_NAMES): FaultSpec {
  if (!isPlainObject(body)) throw badRequest('body must be a JSON object');
  rejectUnknownFields(body, FAULT_FIELDS);
  const { provider, kind, match, count, ms, phase, code, message } = body;
  if (!isProviderName(provider)) {
    throw badRequest(`provider must be one of ${PROVIDER_NAMES.join(', ')}`, 'provider');
  }
  if (!available.includes(provider)) {
    throw badRequest(`provider "${provider}" has no emulator in this sandbox`, 'provider');
  }
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw badRequest(`kind must be one of ${FAULT_KINDS.join(', ')}`, 'kind');
  }
  const spec: FaultSpec = { provider, kind: kind as FaultKind };
  if (match !== undefined) {
    if (typeof match !== 'string' || match.trim() === '') throw badRequest('match must be a non-empty string', 'match');
    spec.match = match;
  }
  if (count !== undefined) {
    if (!Number.isInteger(count) || (count as number) < 1) throw badRequest('count must be a positive integer', 'count');
    spec.count = count as number;
  }
  if (spec.kind === 'latency') {
    if (ms === undefined) throw badRequest('ms is required for kind latency', 'ms');
    if (!Number.isInteger(ms) || (ms as number) < 0 || (ms as number) > MAX_LATENCY_MS) {
      throw badRequest(`ms must be an integer from 0 to ${MAX_LATENCY_MS}`, 'ms');
    }
    spec.ms = ms as number;
    if (phase !== undefined) {
      if (phase !== 'request' && phase !== 'response') throw badRequest('phase must be "request" or "response"', 'phase');
      spec.phase = phase;
    }
  } else if (ms !== undefined) {
    throw badRequest('ms applies only to kind latency', 'ms');
  } else if (phase !== undefined) {
    throw badRequest('phase applies only to kind latency', 'phase');
  }
  for (const [name, value] of [
    ['code', code],
    ['message', message],
  ] as const) {
    if (value === undefined) continue;
    if (spec.kind !== 'error') throw badRequest(`${name} applies only to kind error`, name);
    if (typeof value !== 'string' || value.trim() === '') throw badRequest(`${name} must be a non-empty string`, name);
    spec[name] = value;
  }
  return spec;
}

export class FaultBook {
  private faults: Fault[] = [];

  constructor(private readonly clock: Clock = systemClock) {}

  add(spec: FaultSpec): Fault {
    const fault: Fault = { id: `flt_${randomUUID()}`, ...spec, createdAt: new Date(this.clock.now()).toISOString() };
    if (spec.count !== undefined) fault.remaining = spec.count;
    this.faults.push(fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  /** @returns how many were removed */
  clear(): number {
    const removed = this.faults.length;
    this.faults = [];
    return removed;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((fault) => fault.id !== id);
    return this.faults.length < before;
  }

  /**
   * Uses up one application of the oldest fault of one of `kinds` for `provider` whose `match` is absent or equals
   * one of `keys`. A counted fault disappears when its count is spent.
   */
  take(provider: ProviderName, kinds: readonly FaultKind[], keys: readonly (string | undefined)[]): Fault | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        fault.provider === provider &&
        kinds.includes(fault.kind) &&
        (fault.match === undefined || keys.includes(fault.match)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index];
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults.splice(index, 1);
    }
    return { ...fault };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Callback sender

export interface CallbackRequest {
  provider: ProviderName;
  /** Where to POST; may carry a secret in its query, which never reaches the records or the logs. */
  url: string;
  /** The callback's kind (e.g. `esign.signflows.callback`); a drop-callback fault's `match` may name it. */
  event: string;
  /** Flow id or similar; a drop-callback fault's `match` may name it too. */
  subject?: string;
  /** Sent byte-identical on every attempt. */
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
  /** Headers made afresh for each attempt, after `headers` (a provider that signs every push with its own time). */
  attemptHeaders?: () => Record<string, string>;
  /** The provider's rule for "the receiver took it"; anything else is retried. */
  isAcknowledged(status: number, text: string): boolean;
  /** Retries after the first attempt (ETC: 3, so 4 attempts at most). */
  retries: number;
  /** The provider's delay before retry number `retry` (1-based); the sandbox's `callbackRetryDelaysMs` overrides it. */
  delaysMs: (retry: number) => number;
}

export interface CallbackAttempt {
  at: string;
  /** HTTP status, absent when no answer came. */
  status?: number;
  /** Answer body as text (first 2,000 characters). */
  response?: string;
  /** The attempt's own headers (`CallbackRequest.attemptHeaders`), when the provider makes any. */
  headers?: Record<string, string>;
  /** Network failure or per-attempt timeout. */
  error?: string;
}

export type CallbackState = 'pending' | 'acknowledged' | 'failed' | 'dropped' | 'cancelled' | 'refused';

export interface CallbackDelivery {
  id: string;
  provider: ProviderName;
  event: string;
  subject?: string;
  /** The target with any secret in the query redacted. */
  url: string;
  contentType: string;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
  queuedAt: string;
  attempts: CallbackAttempt[];
  acknowledged: boolean;
  state: CallbackState;
  /** The drop-callback fault that swallowed it. */
  droppedBy?: string;
  /** Why it was never sent: its target is not one of the API's own callback URLs. */
  refusedReason?: string;
}

export interface CallbackSenderOptions {
  clock?: Clock;
  logger?: Logger;
  faults: FaultBook;
  /** Overrides every provider's own retry schedule (tests use a few ms; real ones are seconds to minutes). */
  retryDelaysMs?: (retry: number) => number;
  /** Per-attempt timeout; a receiver slower than this counts as a failed attempt. Default 10 s. */
  attemptTimeoutMs?: number;
  /** Deliveries kept per provider for `GET /_admin/{provider}/callbacks`. Default 1000. */
  historyLimit?: number;
  /**
   * Whether a callback may be sent to `url`; a refused one is recorded (`state: "refused"`) and never sent. The
   * sandbox allows only the API's own callback URLs, so a `notifyUrl` chosen by a caller cannot make the emulator
   * reach into the network it runs in. Default: every target.
   */
  allowTarget?: (provider: ProviderName, url: string) => boolean;
  /** Told whenever a delivery's record changes (the sandbox persists its state then). */
  onChange?: () => void;
}

const MAX_RESPONSE_TEXT = 2000;

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Sends providers' callbacks with their real retry behaviour and remembers every attempt. Deliveries run in the
 * background; `reset()` and `close()` cancel pending retries and abort attempts in flight.
 */
export class CallbackSender {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly timers = new TimerSet();
  private readonly inFlight = new Set<AbortController>();
  private readonly history = new Map<ProviderName, CallbackDelivery[]>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly attemptTimeoutMs: number;
  private readonly historyLimit: number;
  /** Bumped by reset(): a delivery started under an older generation stops at its next step. */
  private generation = 0;

  constructor(private readonly options: CallbackSenderOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.historyLimit = options.historyLimit ?? 1000;
  }

  /**
   * Queues a callback. Returns at once with its record (visible in `list()` from now on) and a promise that
   * settles, never rejecting, when the delivery is acknowledged, given up, dropped or cancelled.
   */
  deliver(request: CallbackRequest): { delivery: CallbackDelivery; settled: Promise<CallbackDelivery> } {
    const text = typeof request.body === 'string' ? request.body : request.body.toString('utf8');
    const delivery: CallbackDelivery = {
      id: `cb_${randomUUID()}`,
      provider: request.provider,
      event: request.event,
      ...(request.subject !== undefined ? { subject: request.subject } : {}),
      url: redactUrl(request.url),
      contentType: request.contentType,
      headers: { ...request.headers },
      body: parseMaybeJson(text),
      queuedAt: new Date(this.clock.now()).toISOString(),
      attempts: [],
      acknowledged: false,
      state: 'pending',
    };
    this.remember(delivery);
    this.options.onChange?.();

    if (this.options.allowTarget && !this.options.allowTarget(request.provider, request.url)) {
      delivery.state = 'refused';
      delivery.refusedReason = 'not one of the API\'s own callback URLs; the sandbox calls back nowhere else';
      this.logger.warn({ provider: request.provider, event: request.event, url: delivery.url }, 'sandbox callback refused: foreign target');
      return { delivery, settled: Promise.resolve(delivery) };
    }

    const drop = this.options.faults.take(request.provider, ['drop-callback'], [request.event, request.subject]);
    if (drop) {
      delivery.state = 'dropped';
      delivery.droppedBy = drop.id;
      this.logger.info({ provider: request.provider, event: request.event, url: delivery.url, fault: drop.id }, 'sandbox callback dropped by fault');
      return { delivery, settled: Promise.resolve(delivery) };
    }
    return { delivery, settled: this.run(request, delivery) };
  }

  list(provider: ProviderName): readonly CallbackDelivery[] {
    return this.history.get(provider) ?? [];
  }

  /** Every provider's deliveries, oldest first. */
  listAll(): CallbackDelivery[] {
    return [...this.history.values()].flat().sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0));
  }

  /** The history, for the state file: the live records, to be serialised at once (they change as deliveries go on). */
  exportHistory(): CallbackDelivery[] {
    return this.listAll();
  }

  /**
   * Takes back a history written by `exportHistory` (a restart). Deliveries that were still pending when the old
   * process stopped are not resent: they are recorded as cancelled.
   */
  importHistory(deliveries: readonly CallbackDelivery[]): void {
    this.history.clear();
    for (const delivery of deliveries) {
      if (!isProviderName(delivery.provider)) continue;
      this.remember({ ...delivery, state: delivery.state === 'pending' ? 'cancelled' : delivery.state });
    }
  }

  /** Deliveries not yet settled, across providers. */
  get pendingCount(): number {
    let n = 0;
    for (const list of this.history.values()) n += list.filter((d) => d.state === 'pending').length;
    return n;
  }

  /** Cancels pending retries, aborts attempts in flight and forgets every delivery. */
  reset(): void {
    this.generation += 1;
    this.timers.cancelAll();
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
    for (const list of this.history.values()) {
      for (const delivery of list) if (delivery.state === 'pending') delivery.state = 'cancelled';
    }
    this.history.clear();
  }

  close(): void {
    this.reset();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private remember(delivery: CallbackDelivery): void {
    const list = this.history.get(delivery.provider) ?? [];
    list.push(delivery);
    if (list.length > this.historyLimit) list.splice(0, list.length - this.historyLimit);
    this.history.set(delivery.provider, list);
  }

  private async run(request: CallbackRequest, delivery: CallbackDelivery): Promise<CallbackDelivery> {
    const generation = this.generation;
    const stillCurrent = () => generation === this.generation;
    const delayFor = this.options.retryDelaysMs ?? request.delaysMs;
    for (let attempt = 0; ; attempt++) {
      // Even the first attempt goes through a (0 ms) timer: the caller's HTTP answer leaves first, and reset() can
      // still cancel it.
      const waited = await this.timers.sleep(attempt === 0 ? 0 : Math.max(0, delayFor(attempt)));
      if (!waited || !stillCurrent()) return this.finish(delivery, 'cancelled');
      const outcome = await this.attempt(request);
      if (!stillCurrent()) return this.finish(delivery, 'cancelled');
      delivery.attempts.push(outcome.record);
      this.options.onChange?.();
      if (outcome.acknowledged) {
        delivery.acknowledged = true;
        return this.finish(delivery, 'acknowledged');
      }
      if (attempt >= request.retries) return this.finish(delivery, 'failed');
    }
  }

  private finish(delivery: CallbackDelivery, state: CallbackState): CallbackDelivery {
    if (delivery.state === 'pending') delivery.state = state;
    this.options.onChange?.();
    const level = state === 'acknowledged' || state === 'cancelled' ? 'info' : 'warn';
    this.logger[level](
      { provider: delivery.provider, event: delivery.event, url: delivery.url, attempts: delivery.attempts.length, state },
      'sandbox callback settled',
    );
    return delivery;
  }

  private async attempt(request: CallbackRequest): Promise<{ record: CallbackAttempt; acknowledged: boolean }> {
    const at = new Date(this.clock.now()).toISOString();
    const attemptHeaders = request.attemptHeaders?.();
    const own = attemptHeaders ? { headers: attemptHeaders } : {};
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(), this.attemptTimeoutMs);
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: { ...request.headers, ...attemptHeaders, 'Content-Type': request.contentType },
        body: request.body,
        agent: (url: URL) => (url.protocol === 'https:' ? this.httpsAgent : this.httpAgent),
        // node-fetch@2 declares its own AbortSignal interface; the global one is compatible at run time.
        signal: controller.signal as unknown as import('node-fetch').RequestInit['signal'],
        redirect: 'manual',
      });
      const text = await response.text();
      const acknowledged = request.isAcknowledged(response.status, text);
      return { record: { at, ...own, status: response.status, response: text.slice(0, MAX_RESPONSE_TEXT) }, acknowledged };
    } catch (error) {
      const message = controller.signal.aborted
        ? `no answer within ${this.attemptTimeoutMs} ms (or cancelled)`
        : error instanceof Error
          ? error.message
          : String(error);
      // node-fetch quotes the full URL in its messages, secret included.
      return { record: { at, ...own, error: message.replace(/https?:\/\/\S+/g, (url) => redactUrl(url)) }, acknowledged: false };
    } finally {
      clearTimeout(timeout);
      this.inFlight.delete(controller);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Requests and replies as emulators see them

/** What an emulator handler gets: the raw bytes (signatures cover them) plus lazy parses. */
export class EmulatorRequest {
  private parsedJson: { value: unknown } | undefined;

  constructor(
    readonly method: string,
    /** Path relative to the emulator's mount, query included. */
    readonly url: string,
    /** Path relative to the emulator's mount, no query. */
    readonly path: string,
    readonly headers: IncomingHttpHeaders,
    readonly rawBody: Buffer,
  ) {}

  get text(): string {
    return this.rawBody.toString('utf8');
  }

  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  get json(): unknown {
    if (!this.parsedJson) {
      let value: unknown;
      try {
        value = this.rawBody.length > 0 ? JSON.parse(this.text) : undefined;
      } catch {
        value = undefined;
      }
      this.parsedJson = { value };
    }
    return this.parsedJson.value;
  }

  /** The body parsed as `application/x-www-form-urlencoded`. */
  get form(): URLSearchParams {
    return new URLSearchParams(this.text);
  }

  get query(): URLSearchParams {
    const q = this.url.indexOf('?');
    return new URLSearchParams(q < 0 ? '' : this.url.slice(q + 1));
  }

  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** What the request log shows as the body. */
  get loggedBody(): unknown {
    if (this.rawBody.length === 0) return null;
    return this.json !== undefined ? this.json : this.text;
  }
}

export interface EmulatorReply {
  /** Default 200. */
  status?: number;
  /** An object is sent as JSON; a string or Buffer as is. */
  body: unknown;
  /** Default content type: JSON for objects, text/plain for strings. */
  headers?: Record<string, string>;
}

/** How a provider says "error" and "slow down" in its own envelope; used when a fault answers for it. */
export interface FaultReplies {
  error(fault: Fault, request: EmulatorRequest): EmulatorReply;
  rateLimit(fault: Fault, request: EmulatorRequest): EmulatorReply;
}

export interface RouteSpec {
  /** The operation name for the request log and fault matching (apiCode, X-TC-Action, …). */
  operation(request: EmulatorRequest): string | undefined;
  faults: FaultReplies;
  handle(request: EmulatorRequest): EmulatorReply | Promise<EmulatorReply>;
}

// ---------------------------------------------------------------------------------------------------------------
// Emulators

export interface CreateFlowInput {
  flowId?: string;
  /** Default SIGNING. */
  status?: SignFlowStatusName;
  /** Number of signers, default 1. */
  signers?: number;
  fileIds?: string[];
  /** Fields the emulator declared in `createFlowFields`, not yet validated (the emulator does that). */
  extra?: Record<string, unknown>;
}

export interface TransitionInput {
  status: SignFlowStatusName;
}

export interface TransitionResult {
  flowId: string;
  status: SignFlowStatusName;
  /** The provider's own status code after the move. */
  providerStatus: string;
  callbackQueued: boolean;
  /** The delivery to look for in `GET /_admin/{provider}/callbacks`. */
  callbackId?: string;
  [extra: string]: unknown;
}

/**
 * A provider emulator. The sandbox mounts `router` at `/<name>`, offers the generic admin endpoints for whatever
 * optional hooks it implements, and calls `reset()` on `POST /_admin/reset`. Admin hooks throw `AdminError`
 * (`badRequest`, `notFound`, `conflict`) to refuse.
 */
export interface Emulator {
  readonly name: ProviderName;
  readonly router: Router;
  /** Forget every flow, nonce and other provider state. (Faults, logs and callbacks are the kit's.) */
  reset(): void;
  createFlow?(input: CreateFlowInput): Promise<{ flowId: string }> | { flowId: string };
  /** Extra admin `flows` body fields this emulator accepts (passed in `CreateFlowInput.extra`). */
  readonly createFlowFields?: readonly string[];
  transition?(flowId: string, input: TransitionInput): Promise<TransitionResult> | TransitionResult;
  /** `GET /_admin/{name}/flows/{flowId}`: the emulator's own view of a flow, undefined when unknown. */
  describeFlow?(flowId: string): unknown;
  /** `GET /_admin/{name}/flows`: every flow (or authorization) in the emulator's own view, oldest first. */
  listFlows?(): unknown[];
  /** Extra admin endpoints, on a router mounted at `/_admin/<name>` (e.g. `router.post('/auto-debits', …)`). */
  adminRoutes?(router: Router): void;
  /**
   * The state that must survive a restart (flows, tasks, settings; not nonces or throttles), JSON-serialisable. It
   * may share objects with the live state: the caller serialises it at once.
   */
  exportState?(): unknown;
  /** Takes back what `exportState` gave (after a restart); replaces the current state. */
  importState?(state: unknown): void;
  close?(): Promise<void> | void;
}

/** What a provider's emulator gets from the sandbox; bound to one provider. */
export class ProviderKit {
  constructor(
    readonly provider: ProviderName,
    private readonly kit: SandboxKit,
  ) {}

  get clock(): Clock {
    return this.kit.clock;
  }

  get logger(): Logger {
    return this.kit.logger;
  }

  /** Where this provider's callbacks go, read at send time. */
  callbackUrl(): string {
    return this.kit.callbackUrl(this.provider);
  }

  /** Wraps a handler with request logging and fault application. */
  handler(spec: RouteSpec): RequestHandler {
    return this.kit.handler(this.provider, spec);
  }

  deliver(request: Omit<CallbackRequest, 'provider'>): { delivery: CallbackDelivery; settled: Promise<CallbackDelivery> } {
    return this.kit.callbacks.deliver({ ...request, provider: this.provider });
  }

  /** Says the emulator's state changed outside a request (a timer ended a task), so it is saved. */
  changed(): void {
    this.kit.changed();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The kit

export interface SandboxKitOptions {
  callbackUrl: (provider: ProviderName) => string;
  clock?: Clock;
  logger?: Logger;
  /** Overrides every provider's callback retry schedule; `retry` is 1 for the first retry. */
  callbackRetryDelaysMs?: (retry: number) => number;
  /** Per-attempt timeout of a callback delivery. Default 10 s. */
  callbackTimeoutMs?: number;
  /** Requests and callbacks kept per provider. Default 1000. */
  historyLimit?: number;
  /** See `CallbackSenderOptions.allowTarget`. */
  allowCallbackTarget?: (provider: ProviderName, url: string) => boolean;
  /** Told after anything that may have changed state: an emulator request, an admin call, a callback's progress. */
  onChange?: () => void;
}

export class SandboxKit {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly requests: RequestLog;
  readonly faults: FaultBook;
  readonly callbacks: CallbackSender;
  readonly callbackUrl: (provider: ProviderName) => string;
  private readonly timers = new TimerSet();
  /** Answers held back by a timeout or latency fault; reset/close destroy them. */
  private readonly held = new Set<Response>();
  private readonly onChange?: () => void;

  constructor(options: SandboxKitOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.callbackUrl = options.callbackUrl;
    this.requests = new RequestLog(options.historyLimit);
    this.faults = new FaultBook(this.clock);
    this.callbacks = new CallbackSender({
      clock: this.clock,
      logger: this.logger,
      faults: this.faults,
      retryDelaysMs: options.callbackRetryDelaysMs,
      attemptTimeoutMs: options.callbackTimeoutMs,
      historyLimit: options.historyLimit,
      allowTarget: options.allowCallbackTarget,
      onChange: () => this.changed(),
    });
    this.onChange = options.onChange;
  }

  changed(): void {
    this.onChange?.();
  }

  forProvider(provider: ProviderName): ProviderKit {
    return new ProviderKit(provider, this);
  }

  /** Requests held by timeout or latency faults right now. */
  get heldCount(): number {
    return this.held.size;
  }

  handler(provider: ProviderName, spec: RouteSpec): RequestHandler {
    return (req, res, next) => {
      this.serve(provider, spec, req, res).catch(next);
    };
  }

  /** Forgets faults, logs and callbacks; ends held requests. Emulators' own state is reset by the sandbox. */
  reset(): void {
    this.timers.cancelAll();
    for (const res of this.held) res.destroy();
    this.held.clear();
    this.callbacks.reset();
    this.faults.clear();
    this.requests.clear();
  }

  async close(): Promise<void> {
    this.reset();
    this.callbacks.close();
  }

  private async serve(provider: ProviderName, spec: RouteSpec, req: Request, res: Response): Promise<void> {
    const request = new EmulatorRequest(req.method, req.url, req.path, req.headers, rawBodyOf(req));
    const operation = safeOperation(spec, request);
    const record = this.requests.add(provider, {
      at: new Date(this.clock.now()).toISOString(),
      method: request.method,
      path: request.url,
      operation: operation ?? null,
      headers: request.headers,
      body: request.loggedBody,
      status: null,
      response: null,
      faults: [],
    });

    const latency = this.faults.take(provider, ['latency'], [operation]);
    const hold = async (): Promise<boolean> => {
      if (!latency) return true;
      this.held.add(res);
      const waited = await this.timers.sleep(latency.ms ?? 0);
      this.held.delete(res);
      return waited && !res.destroyed;
    };
    if (latency) record.faults.push(latency.id);
    if (latency?.phase !== 'response' && !(await hold())) return;

    const blocking = this.faults.take(provider, ['timeout', 'error', 'rate-limit'], [operation]);
    let reply: EmulatorReply;
    if (blocking) record.faults.push(blocking.id);
    if (blocking?.kind === 'timeout') {
      // Accept and never answer; the connection stays open until the client gives up or reset/close ends it.
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    } else if (blocking?.kind === 'error') {
      reply = spec.faults.error(blocking, request);
    } else if (blocking?.kind === 'rate-limit') {
      reply = spec.faults.rateLimit(blocking, request);
    } else {
      try {
        reply = await spec.handle(request);
      } catch (error) {
        this.logger.error({ err: error, provider, operation }, 'sandbox emulator failed');
        reply = { status: 500, body: { error: 'sandbox emulator failed', message: String(error) } };
      }
    }
    if (latency?.phase === 'response' && !(await hold())) return;
    if (res.destroyed) return;
    record.status = reply.status ?? 200;
    record.response = Buffer.isBuffer(reply.body) ? reply.body.toString('utf8') : reply.body;
    send(res, reply);
    this.changed();
  }
}

function safeOperation(spec: RouteSpec, request: EmulatorRequest): string | undefined {
  try {
    return spec.operation(request);
  } catch {
    return undefined;
  }
}

/** The sandbox router parses bodies with express.raw; a host app that parsed JSON first still works, less exactly. */
function rawBodyOf(req: Request): Buffer {
  const body: unknown = req.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body !== undefined && body !== null && typeof body === 'object' && Object.keys(body).length > 0) {
    return Buffer.from(JSON.stringify(body), 'utf8');
  }
  return Buffer.alloc(0);
}

function send(res: Response, reply: EmulatorReply): void {
  res.status(reply.status ?? 200);
  const headers = reply.headers ?? {};
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
    if (!hasType) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(reply.body);
  } else {
    if (!hasType) res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(reply.body));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Redaction: what the admin API shows of requests and callbacks

/** Headers that carry a credential or a signature (lower case). */
const SECRET_HEADERS = new Set([
  'authorization',
  'cookie',
  'content-signature',
  'x-tsign-open-signature',
  'x-tsign-open-ca-signature',
  'x-api-key',
]);
/** Body and form fields that carry a signature, a token or a key. */
const SECRET_FIELD = /^(sign|signature|verifySign|token|secret|accessToken|refreshToken|appSecret|privateKey|secretKey|password)$/i;
export const REDACTED = '[redacted]';

function redactHeaders<T extends Record<string, unknown>>(headers: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : value;
  return out as T;
}

/** Signature and token fields of a JSON body (at any depth) or a form body. */
export function redactBody(body: unknown): unknown {
  if (typeof body === 'string') {
    if (!/^[^=&\s]+=[^&]*(&[^=&\s]+=[^&]*)*$/.test(body)) return body;
    const form = new URLSearchParams(body);
    let changed = false;
    for (const key of [...form.keys()]) {
      if (SECRET_FIELD.test(key)) {
        form.set(key, REDACTED);
        changed = true;
      }
    }
    return changed ? form.toString() : body;
  }
  if (Array.isArray(body)) return body.map(redactBody);
  if (isPlainObject(body)) {
    return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, SECRET_FIELD.test(key) && typeof value === 'string' ? REDACTED : redactBody(value)]));
  }
  return body;
}

export function redactRequest(record: RequestRecord): RequestRecord {
  return { ...record, path: redactUrl(record.path), headers: redactHeaders(record.headers), body: redactBody(record.body), response: redactBody(record.response) };
}

export function redactDelivery(delivery: CallbackDelivery): CallbackDelivery {
  return {
    ...delivery,
    url: redactUrl(delivery.url),
    headers: redactHeaders(delivery.headers),
    body: redactBody(delivery.body),
    attempts: delivery.attempts.map((attempt) => (attempt.headers ? { ...attempt, headers: redactHeaders(attempt.headers) } : attempt)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Admin API

/** Admin handler helper: parses the JSON body (empty = `{}`), sends the result as JSON, maps `AdminError`. */
export function adminRoute(
  fn: (body: unknown, req: Request) => unknown,
  successStatus = 200,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    (async () => {
      const raw = rawBodyOf(req);
      let body: unknown = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw badRequest('body must be a JSON object');
        }
      }
      const result = await fn(body, req);
      res.status(successStatus).json(result ?? {});
    })().catch((error: unknown) => {
      if (error instanceof AdminError) {
        res.status(error.status).json({ error: error.message, ...(error.field ? { field: error.field } : {}) });
      } else {
        next(error);
      }
    });
  };
}

const CREATE_FLOW_FIELDS = ['flowId', 'status', 'signers', 'fileIds'] as const;
const FLOW_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Validates a `POST /_admin/{provider}/flows` body; throws a 400 naming the field. */
export function parseCreateFlowInput(body: unknown, extraFields: readonly string[] = []): CreateFlowInput {
  if (!isPlainObject(body)) throw badRequest('body must be a JSON object');
  rejectUnknownFields(body, [...CREATE_FLOW_FIELDS, ...extraFields]);
  const extra: Record<string, unknown> = {};
  const input: CreateFlowInput = { extra };
  if (body.flowId !== undefined) {
    if (typeof body.flowId !== 'string' || !FLOW_ID_PATTERN.test(body.flowId)) {
      throw badRequest('flowId must be 1 to 64 letters, digits, "_", "-" or "."', 'flowId');
    }
    input.flowId = body.flowId;
  }
  if (body.status !== undefined) {
    if (!isSignFlowStatus(body.status)) throw badRequest(`status must be one of ${SIGN_FLOW_STATUSES.join(', ')}`, 'status');
    input.status = body.status;
  }
  if (body.signers !== undefined) {
    const n = body.signers;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100) {
      throw badRequest('signers must be an integer from 1 to 100', 'signers');
    }
    input.signers = n;
  }
  if (body.fileIds !== undefined) {
    const ids = body.fileIds;
    if (!Array.isArray(ids) || ids.length > 100 || ids.some((id) => typeof id !== 'string' || id.trim() === '')) {
      throw badRequest('fileIds must be an array of at most 100 non-empty strings', 'fileIds');
    }
    input.fileIds = ids as string[];
  }
  for (const field of extraFields) if (body[field] !== undefined) extra[field] = body[field];
  return input;
}

/** Validates a `POST /_admin/{provider}/flows/{flowId}/transition` body; throws a 400 naming the field. */
export function parseTransitionInput(body: unknown): TransitionInput {
  if (!isPlainObject(body)) throw badRequest('body must be a JSON object');
  rejectUnknownFields(body, ['status']);
  if (body.status === undefined) throw badRequest('status is required', 'status');
  if (!isSignFlowStatus(body.status)) throw badRequest(`status must be one of ${SIGN_FLOW_STATUSES.join(', ')}`, 'status');
  return { status: body.status };
}

/**
 * The admin API (docs/sandbox.md), mounted by `createSandboxRouter` at `/_admin`.
 * @param resetAll forgets everything: the kit's state and every emulator's
 */
export function createAdminRouter(
  kit: SandboxKit,
  emulators: Readonly<Partial<Record<ProviderName, Emulator>>>,
  resetAll: () => void | Promise<void>,
): Router {
  const router = express.Router();
  const available = Object.keys(emulators) as ProviderName[];

  const emulatorFor = (name: string): Emulator => {
    if (!isProviderName(name)) throw notFound(`unknown provider "${name}"; known: ${PROVIDER_NAMES.join(', ')}`);
    const emulator = emulators[name];
    if (!emulator) throw notFound(`provider "${name}" has no emulator in this sandbox`);
    return emulator;
  };

  // Whatever an admin call changes is saved once it has answered.
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') res.on('finish', () => kit.changed());
    next();
  });

  router.post(
    '/reset',
    adminRoute(async () => {
      await resetAll();
      return { reset: true };
    }),
  );

  router.get('/callbacks', adminRoute(() => ({ callbacks: kit.callbacks.listAll().map(redactDelivery) })));
  router.get(
    '/flows',
    adminRoute(() => ({
      providers: Object.fromEntries(
        Object.values(emulators)
          .filter((emulator): emulator is Emulator => !!emulator?.listFlows)
          .map((emulator) => [emulator.name, emulator.listFlows!()]),
      ),
    })),
  );

  router.get('/faults', adminRoute(() => ({ faults: kit.faults.list() })));
  router.post('/faults', adminRoute((body) => kit.faults.add(parseFaultSpec(body, available)), 201));
  router.delete('/faults', adminRoute(() => ({ cleared: kit.faults.clear() })));
  router.delete(
    '/faults/:id',
    adminRoute((_body, req) => {
      if (!kit.faults.remove(String(req.params.id))) throw notFound(`no fault "${String(req.params.id)}"`);
      return { cleared: 1 };
    }),
  );

  // Emulator-specific admin endpoints first, so they may define paths the generic ones below would also match.
  for (const emulator of Object.values(emulators)) {
    if (!emulator?.adminRoutes) continue;
    const sub = express.Router();
    emulator.adminRoutes(sub);
    router.use(`/${emulator.name}`, sub);
  }

  router.post(
    '/:provider/flows',
    adminRoute(async (body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      if (!emulator.createFlow) throw notFound(`the ${emulator.name} emulator has no sign flows`);
      return emulator.createFlow(parseCreateFlowInput(body, emulator.createFlowFields));
    }, 201),
  );

  router.get(
    '/:provider/flows',
    adminRoute((_body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      if (!emulator.listFlows) throw notFound(`the ${emulator.name} emulator has no sign flows`);
      return { flows: emulator.listFlows() };
    }),
  );

  router.get(
    '/:provider/flows/:flowId',
    adminRoute((_body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      const flowId = String(req.params.flowId);
      const flow = emulator.describeFlow?.(flowId);
      if (flow === undefined) throw notFound(`no ${emulator.name} flow "${flowId}"`);
      return flow;
    }),
  );

  router.post(
    '/:provider/flows/:flowId/transition',
    adminRoute(async (body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      if (!emulator.transition) throw notFound(`the ${emulator.name} emulator has no sign flows`);
      return emulator.transition(String(req.params.flowId), parseTransitionInput(body));
    }),
  );

  router.get(
    '/:provider/requests',
    adminRoute((_body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      return { requests: kit.requests.list(emulator.name).map(redactRequest) };
    }),
  );

  router.get(
    '/:provider/callbacks',
    adminRoute((_body, req) => {
      const emulator = emulatorFor(String(req.params.provider));
      return { callbacks: kit.callbacks.list(emulator.name).map(redactDelivery) };
    }),
  );

  router.use(adminRoute((_body, req) => {
    throw notFound(`no admin endpoint ${req.method} ${req.path}`);
  }));
  return router;
}

/**
 * The whole sandbox on one router: body capture (raw bytes, any content type), `/_admin`, and each emulator at
 * `/<name>`. Mount it before any body parser of the host app, or signatures over raw bytes cannot be checked.
 */
export function createSandboxRouter(
  kit: SandboxKit,
  emulators: Readonly<Partial<Record<ProviderName, Emulator>>>,
  resetAll: () => void | Promise<void>,
  access: SandboxAccessOptions = {},
): Router {
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: '5mb' }));
  router.use('/_admin', adminAccess(access), createAdminRouter(kit, emulators, resetAll));
  router.use(createConsoleRouter(access));
  for (const emulator of Object.values(emulators)) {
    if (emulator) router.use(`/${emulator.name}`, emulator.router);
  }
  // Anything unexpected (a store that fails during a reset) answers JSON, never the host's HTML error page.
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    kit.logger.error({ err: error }, 'sandbox request failed');
    res.status(500).json({ error: `sandbox: ${error instanceof Error ? error.message : 'internal error'}` });
  });
  return router;
}
