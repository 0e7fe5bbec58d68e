import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How `callbacks_total` counts one provider callback (docs/operations.md "Metrics"). */
export type CallbackOutcome = 'stored' | 'duplicate' | 'refused' | 'failed';

export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** The last observation of one GraphQL operation, over HTTP or WebSocket. */
export interface OperationObservation {
  /** The operation's name in the document; null when it has none or the document did not parse. */
  name: string | null;
  type: OperationType;
  outcome: 'ok' | 'error';
  /** Omitted for subscriptions: their lifetime is not a latency. */
  seconds?: number;
}

export interface ProviderCallObservation {
  provider: string;
  action: string;
  /** `success`, or the provider error kind the call ended in (`timeout`, `business`, `unavailable`, …). */
  outcome: string;
  /** The whole call: every attempt and the backoff between them. */
  seconds: number;
}

/** How one reconciliation tick ended: it ran (`completed`, `failed` part-way) or another replica holds the lease. */
export type ReconcileRunOutcome = 'completed' | 'failed' | 'skipped';

/** What the reconciler reports (src/reconcile/reconciler.ts). */
export interface ReconcileObserver {
  reconcileRun(outcome: ReconcileRunOutcome): void;
  /** `kind` is `signflow` or `rescission`; `outcome` `changed` (an event with source SYNC), `unchanged` or `failed`. */
  reconcileRead(kind: string, provider: string, outcome: 'changed' | 'unchanged' | 'failed', n?: number): void;
}

/** Read at scrape time, so the gauges cost nothing between scrapes. */
export interface GaugeSources {
  subscriptions?: () => number;
  cancelTasks?: () => { active: number; oldestCreatedAt: Date | null };
}

/** What a breaker exposes to metrics: `open` and `half-open` refuse calls, `closed` lets them through. */
export interface BreakerState {
  readonly status: 'closed' | 'open' | 'half-open';
}

/** Distinct operation names counted before new ones are folded into `other`. */
export const MAX_OPERATION_NAMES = 200;
/** Distinct provider actions per provider (they come from code, so this is only a guard). */
const MAX_ACTIONS = 100;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PROVIDER_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A label value from a set that stays small: the first `max` distinct values are kept as they are, later ones
 * become `other`, so a client inventing operation names cannot grow the series without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(raw);
    return raw;
  }
}

/**
 * The application's Prometheus metrics, on a registry of its own (never prom-client's global one), so that several
 * app instances in one process — as tests start them — keep separate counts.
 */
export class AppMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'operation' | 'type' | 'outcome'>;
  private readonly operationSeconds: Histogram<'operation' | 'type'>;
  private readonly executions: Counter<'engine'>;
  private readonly providerCalls: Counter<'provider' | 'action' | 'outcome'>;
  private readonly providerSeconds: Histogram<'provider' | 'action'>;
  private readonly callbacks: Counter<'provider' | 'outcome'>;
  private readonly reconcileRuns: Counter<'outcome'>;
  private readonly reconcileChanges: Counter<'kind' | 'provider'>;
  private readonly reconcileReads: Counter<'kind' | 'provider' | 'outcome'>;
  private readonly deliveryLag: Histogram;
  private readonly operationNames = new BoundedLabel(MAX_OPERATION_NAMES);
  private readonly actions = new Map<string, BoundedLabel>();
  private readonly breakers = new Map<string, BreakerState>();
  private sources: GaugeSources = {};

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.operations = new Counter({
      name: 'graphql_operations_total',
      help: 'GraphQL operations answered, by operation name (bounded; "anonymous" when unnamed, "other" past the cap), type and outcome (ok, error).',
      labelNames: ['operation', 'type', 'outcome'],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'Time from receiving a query or mutation to its response.',
      labelNames: ['operation', 'type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.executions = new Counter({
      name: 'graphql_executions_total',
      help: 'HTTP GraphQL operations executed, by engine: compiled (graphql-jit) or graphql-js (GRAPHQL_JIT=off, tracing on, or what does not compile).',
      labelNames: ['engine'],
      registers,
    });
    this.providerCalls = new Counter({
      name: 'provider_calls_total',
      help: 'Provider API calls, retries inside one call counted once, by provider, action and outcome (success or the error kind).',
      labelNames: ['provider', 'action', 'outcome'],
      registers,
    });
    this.providerSeconds = new Histogram({
      name: 'provider_call_duration_seconds',
      help: 'Duration of one provider call, every attempt and backoff included.',
      labelNames: ['provider', 'action'],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.callbacks = new Counter({
      name: 'callbacks_total',
      help: 'Provider callbacks received, by provider and outcome (stored, duplicate, refused, failed).',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.reconcileRuns = new Counter({
      name: 'reconcile_runs_total',
      help: 'Reconciliation ticks, by outcome (completed, failed part-way, skipped because another replica holds the lease).',
      labelNames: ['outcome'],
      registers,
    });
    this.reconcileChanges = new Counter({
      name: 'reconcile_changes_total',
      help: 'Status changes learned by reading stale records again from their provider (each one an event with source SYNC).',
      labelNames: ['kind', 'provider'],
      registers,
    });
    this.reconcileReads = new Counter({
      name: 'reconcile_reads_total',
      help: 'Records read again by reconciliation, by kind, provider and outcome (changed, unchanged, failed).',
      labelNames: ['kind', 'provider', 'outcome'],
      registers,
    });
    this.deliveryLag = new Histogram({
      name: 'event_delivery_lag_seconds',
      help: 'Time from an event being stored to this process dispatching it to its subscribers.',
      buckets: LAG_BUCKETS,
      registers,
    });
    const sources = () => this.sources;
    new Gauge({
      name: 'subscriptions_active',
      help: 'GraphQL subscriptions this process is serving.',
      registers,
      collect() {
        this.set(sources().subscriptions?.() ?? 0);
      },
    });
    new Gauge({
      name: 'cancel_tasks_active',
      help: 'Batch-cancel tasks this process is running.',
      registers,
      collect() {
        this.set(sources().cancelTasks?.().active ?? 0);
      },
    });
    new Gauge({
      name: 'cancel_task_oldest_active_seconds',
      help: 'Age of the oldest batch-cancel task this process is running (0 when none).',
      registers,
      collect() {
        const oldest = sources().cancelTasks?.().oldestCreatedAt;
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
    const breakers = this.breakers;
    new Gauge({
      name: 'provider_breaker_open',
      help: 'Whether the provider\'s circuit breaker refuses calls (1: open or testing recovery with a trial call; 0: closed).',
      labelNames: ['provider'],
      registers,
      collect() {
        for (const [provider, breaker] of breakers) this.set({ provider }, breaker.status === 'closed' ? 0 : 1);
      },
    });
  }

  /** Connects the gauges to what they read; called once the services exist. */
  setSources(sources: GaugeSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  watchBreaker(provider: string, breaker: BreakerState): void {
    this.breakers.set(provider, breaker);
  }

  operation(observation: OperationObservation): void {
    const operation = observation.name === null ? 'anonymous' : this.operationNames.value(observation.name);
    this.operations.inc({ operation, type: observation.type, outcome: observation.outcome });
    if (observation.seconds !== undefined) this.operationSeconds.observe({ operation, type: observation.type }, observation.seconds);
  }

  execution(engine: 'compiled' | 'graphql-js'): void {
    this.executions.inc({ engine });
  }

  providerCall(observation: ProviderCallObservation): void {
    let actions = this.actions.get(observation.provider);
    if (!actions) this.actions.set(observation.provider, (actions = new BoundedLabel(MAX_ACTIONS)));
    const action = actions.value(observation.action);
    this.providerCalls.inc({ provider: observation.provider, action, outcome: observation.outcome });
    this.providerSeconds.observe({ provider: observation.provider, action }, observation.seconds);
  }

  callback(provider: string, outcome: CallbackOutcome): void {
    this.callbacks.inc({ provider, outcome });
  }

  reconcileRun(outcome: ReconcileRunOutcome): void {
    this.reconcileRuns.inc({ outcome });
  }

  reconcileRead(kind: string, provider: string, outcome: 'changed' | 'unchanged' | 'failed', n = 1): void {
    if (n <= 0) return;
    this.reconcileReads.inc({ kind, provider, outcome }, n);
    if (outcome === 'changed') this.reconcileChanges.inc({ kind, provider }, n);
  }

  eventDispatched(receivedAt: Date, now = Date.now()): void {
    this.deliveryLag.observe(Math.max(0, (now - receivedAt.getTime()) / 1000));
  }

  /** Unregisters every metric; the registry answers nothing afterwards. */
  close(): void {
    this.registry.clear();
  }
}

/** Equal-length digests, so comparing them takes the same time whatever the token's length or content. */
function tokenMatches(expected: string, header: string | undefined): boolean {
  const match = /^Bearer +(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(match[1] as string));
}

/**
 * `GET /metrics` in the Prometheus text format. With a token, a scrape without `Authorization: Bearer <token>`
 * gets 401 and nothing else.
 */
export function metricsHandler(metrics: AppMetrics, token: string | undefined): RequestHandler {
  return async (req, res) => {
    if (token !== undefined && !tokenMatches(token, req.get('authorization'))) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').json({ error: 'authorization: a bearer token is required for /metrics' });
      return;
    }
    try {
      const body = await metrics.registry.metrics();
      res.status(200).set('Content-Type', metrics.registry.contentType).send(body);
    } catch (error) {
      res.status(500).json({ error: `metrics could not be collected: ${(error as Error).message}` });
    }
  };
}
