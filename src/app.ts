import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { Authenticator } from './auth/authenticator';
import { CALLBACK_BODY_LIMITS, withCallbackBody } from './callbacks/body';
import { directPostRoutes } from './callbacks/direct';
import { esignCallbackHandler } from './callbacks/esign';
import { etcCallbackHandler } from './callbacks/etc';
import { observeCallback } from './callbacks/observe';
import { tencentCallbackHandler } from './callbacks/tencent';
import { yuansferCallbackHandler } from './callbacks/yuansfer';
import { loadConfig, type Config, type HttpClientSettings } from './config';
import { EventFeed } from './events/feed';
import { createNotifier, type Notifier } from './events/notifier';
import { auditPlugin } from './graphql/audit';
import { createContext, type Context, type Services } from './graphql/context';
import { corsMiddleware } from './graphql/cors';
import { compiledExecution } from './graphql/compiled-execution';
import { formatError } from './graphql/errors';
import { graphqlPostEndpoint } from './graphql/http-endpoint';
import { IDE_ASSETS_PATH, ideAssetsRouter, ideHeaders, ideLandingPagePlugin, loadIdeConfig } from './graphql/ide';
import { observeGraphqlWs, operationLogPlugin } from './graphql/observability';
import { ownOrigins } from './graphql/origins';
import { limitRules, parseOptions } from './graphql/limits';
import { jsonStatusPlugin, noStorePlugin } from './graphql/over-http';
import { createOperationRateLimiter } from './graphql/rate-limit';
import { buildFederatedSchema } from './graphql/schema';
import { sseHandler } from './graphql/sse';
import { subscriptionOverHttpPlugin } from './graphql/subscription-over-http';
import { attachWebSocket } from './graphql/websocket';
import { AutoDebitRecorder, AutoDebitService } from './lifecycle/autodebit';
import { CancelService, type BatchCancelProvider, type CancelServiceOptions } from './lifecycle/cancel';
import { FlowService } from './lifecycle/flows';
import { Idempotency, type IdempotencyOptions } from './lifecycle/idempotency';
import { FlowRecorder } from './lifecycle/recorder';
import { RescissionRecorder, RescissionService } from './lifecycle/rescission';
import { createLogger, redactUrl, type Logger } from './logger';
import { loadObservabilityConfig } from './observability/config';
import { AppMetrics, metricsHandler } from './observability/metrics';
import { requestIdMiddleware } from './observability/request-id';
import { ConsecutiveFailureBreaker } from './providers/breaker';
import { EsignClient } from './providers/esign/client';
import { EtcClient } from './providers/etc/client';
import { InMemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './providers/rate-limit';
import { ProviderRegistry } from './providers/registry';
import { TencentClient } from './providers/tencent/client';
import { YuansferClient } from './providers/yuansfer/client';
import { RedisLease, StoreLease } from './reconcile/lease';
import { Reconciler, type ReconcilerOptions } from './reconcile/reconciler';
import { createSandbox, type Sandbox, type SandboxOptions } from './sandbox';
import { stateFilePath } from './sandbox/state-file';
import { emulatedProviders, resetSandboxRecords } from './sandbox/store-reset';
import { securityWarnings } from './security/config';
import { jsonErrorHandler, notFoundHandler } from './security/http-errors';
import { introspectionRules } from './security/introspection';
import { openStore, type SqlStore, type StoreOptions } from './store';
import { telemetrySettings } from './telemetry';

export interface StartOptions {
  /** The environment to configure from (README "Configuration"). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Test hooks for the in-process sandbox (fast callback retries, a fake clock, `stateFile`). */
  sandbox?: Partial<Omit<SandboxOptions, 'callbackUrl'>>;
  /** Demo data for the in-process sandbox: put in place when no saved state exists, and after each reset. */
  sandboxSeed?: SandboxOptions['seed'];
  idempotency?: IdempotencyOptions;
  /** How often each replica re-reads the event log when no wake-up came. */
  pollIntervalMs?: number;
  /** Sees every store statement (tests count the queries one operation makes). */
  onStoreQuery?: StoreOptions['onQuery'];
  /** Batch-cancel tuning (poll interval, deadline, concurrency); tests shorten them. */
  cancel?: Omit<CancelServiceOptions, 'logger'>;
  /** Reconciliation tuning beyond the environment (backoff, per-run limit); tests shorten them. */
  reconcile?: Pick<ReconcilerOptions, 'backoff' | 'perRunLimit'>;
}

export interface RunningApp {
  config: Config;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  services: Services;
  sandbox?: Sandbox;
  /** The IDE is served at GET /graphql (IDE, off by default in production). */
  ide: boolean;
  /** Reads stale open records again from their provider (docs/operations.md, "Reconciliation"). */
  reconciler: Reconciler;
  /** Graceful: stop accepting, finish in-flight work, close subscriptions, release resources. */
  close(): Promise<void>;
}

/** Callback paths per sandbox provider name, as the contract names them. */
const CALLBACK_PATHS = { etc: '/callbacks/etc', tencent: '/callbacks/tencent-ess', esign: '/callbacks/esign', yuansfer: '/callbacks/yuansfer' } as const;

/**
 * Builds and starts the whole server on one port: GraphQL over HTTP and WebSocket at /graphql, provider
 * callbacks, health checks and (in sandbox mode) the emulators under /sandbox.
 */
export async function startApp(options: StartOptions = {}): Promise<RunningApp> {
  let listeningPort = 0;
  const localBase = () => `http://127.0.0.1:${listeningPort}`;
  const config = loadConfig(options.env ?? process.env, () => `${localBase()}/sandbox`);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const observability = loadObservabilityConfig(options.env ?? process.env);
  const ide = loadIdeConfig(options.env ?? process.env);
  // Counted even with METRICS=off (cheap); only the endpoint is off then.
  const metrics = new AppMetrics();

  const store: SqlStore = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onQuery: options.onStoreQuery });
  const notifier: Notifier = await createNotifier({ redisUrl: config.redisUrl, logger }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const feed = new EventFeed(store, notifier, {
    logger,
    pollIntervalMs: options.pollIntervalMs ?? config.eventPollIntervalMs,
    onDispatch: (event) => metrics.eventDispatched(event.receivedAt),
  });
  await feed.start();
  const recorder = new FlowRecorder(store, feed);
  const idempotency = new Idempotency(store, options.idempotency);

  const providers = new ProviderRegistry();
  const breaker = (provider: string, settings: HttpClientSettings) => {
    const made = new ConsecutiveFailureBreaker({ provider, failureThreshold: settings.breakerThreshold, resetAfterMs: settings.breakerResetMs });
    metrics.watchBreaker(provider, made);
    return made;
  };
  if (config.etc) providers.register(new EtcClient(config.etc, { logger, breaker: breaker('ETC', config.etc), observer: metrics }));
  const esign = config.esign ? new EsignClient(config.esign, { logger, breaker: breaker('ESIGN', config.esign), observer: metrics }) : undefined;
  if (esign) providers.register(esign);
  // Tencent counts its per-action limit per account: with Redis the buckets are shared by every replica.
  let limiter: RateLimiter | undefined;
  const batchProviders = new Map<BatchCancelProvider['provider'], BatchCancelProvider>();
  if (config.tencent) {
    const shape = { ratePerSecond: config.tencent.ratePerSecond, burst: 1 };
    limiter = config.redisUrl ? new RedisRateLimiter(config.redisUrl, shape, 'esign:ratelimit:', logger) : new InMemoryRateLimiter(shape);
    const tencent = new TencentClient(config.tencent, { logger, breaker: breaker('TENCENT_ESS', config.tencent), observer: metrics, limiter });
    providers.register(tencent);
    batchProviders.set(tencent.provider, tencent);
  }
  const yuansfer = config.yuansfer ? new YuansferClient(config.yuansfer, { logger, breaker: breaker('YUANSFER', config.yuansfer), observer: metrics }) : undefined;

  const services: Services = {
    store,
    feed,
    flows: new FlowService(store, providers, recorder, idempotency, logger),
    autoDebits: new AutoDebitService(store, yuansfer, new AutoDebitRecorder(store, feed), idempotency, {
      logger,
      ipnUrl: () => `${config.publicUrl ?? localBase()}${CALLBACK_PATHS.yuansfer}`,
      redirectUrls: config.security.redirectUrls,
    }),
    rescissions: new RescissionService({
      store,
      provider: esign,
      flows: recorder,
      rescissions: new RescissionRecorder(store, feed),
      idempotency,
      // In sandbox mode the emulator's callback URL for e签宝 is this same address.
      defaultNotifyUrl: () => `${config.publicUrl ?? localBase()}${CALLBACK_PATHS.esign}`,
      // This API's own callback address is always a valid notifyUrl.
      notifyUrls: () => ({ ...config.security.notifyUrls, origins: [...config.security.notifyUrls.origins, new URL(config.publicUrl ?? localBase()).origin] }),
      logger,
    }),
    cancels: new CancelService(store, providers, batchProviders, recorder, feed, idempotency, {
      tasksPerCaller: config.limits.cancelTasksPerCaller,
      ...options.cancel,
      logger,
    }),
    logger,
    partyClaims: config.auth.partyClaims,
    limits: config.limits,
    defaultParties: {
      tencentAgent: config.tencent && { proxyOrganizationOpenId: config.tencent.proxyOrganizationOpenId, proxyOperatorOpenId: config.tencent.proxyOperatorOpenId },
      yuansfer: config.yuansfer && { merchantNo: config.yuansfer.merchantNo, storeNo: config.yuansfer.storeNo },
    },
  };
  const authenticator = new Authenticator(config.auth, logger);
  if (config.auth.explicitlyOff) {
    logger.warn('AUTH=off: every caller may do everything in every tenant; never run like this where the API can be reached by others');
  }
  for (const warning of securityWarnings(config.security, config)) logger.warn(warning);

  const app = express();
  app.disable('x-powered-by');
  // No ETags: every answer here is per request (GraphQL, callbacks, health), and hashing each body cost a callback
  // more than writing it. The IDE's assets are cached by their content-hashed URLs instead.
  app.set('etag', false);
  app.use(requestIdMiddleware());
  // POST /graphql with a JSON body is served ahead of Express (src/graphql/http-endpoint.ts); the rest by Express.
  // So are the provider callbacks, by exact path (src/callbacks/direct.ts).
  let graphqlPost: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | undefined;
  let callbackPost: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | undefined;
  const httpServer = http.createServer((req, res) => {
    if (!graphqlPost?.(req, res) && !callbackPost?.(req, res)) app(req, res);
  });
  const schema = await buildFederatedSchema();

  // RATE_LIMIT_PER_MINUTE: one count per caller for HTTP and WebSocket operations, in Redis when REDIS_URL is set.
  const rateLimiter = createOperationRateLimiter({ perMinute: config.limits.rateLimitPerMinute, redisUrl: config.redisUrl, logger });
  const allowedOrigins = () => [...ownOrigins(listeningPort, config.publicUrl), ...config.auth.corsOrigins];
  const wsCleanup = attachWebSocket(httpServer, {
    path: '/graphql',
    schema,
    services,
    authenticator,
    allowedOrigins,
    maxSubscriptions: config.wsMaxSubscriptions,
    limits: config.limits,
    rateLimiter,
    maxPayloadBytes: 64 * 1024,
    connectionInitWaitTimeoutMs: 3_000,
    logger,
    production: observability.production,
    suggestions: config.security.suggestions,
    validationRules: introspectionRules(config.security.introspection),
    // Request ids, log lines and metrics per subscribe message (src/graphql/observability.ts).
    wrap: (serverOptions) => observeGraphqlWs({ logger, metrics }, serverOptions),
  });

  // A shared WebSocket execution is one feed subscriber serving many subscriptions: count the subscriptions.
  const activeSubscriptions = () => {
    const shared = wsCleanup.shared();
    return feed.subscriberCount - shared.executions + shared.members;
  };
  metrics.setSources({ subscriptions: activeSubscriptions, cancelTasks: () => services.cancels.activity() });

  const apollo = new ApolloServer<BaseContext & Context>({
    // Compiled execution (src/graphql/compiled-execution.ts) unless GRAPHQL_JIT=off or tracing is on.
    ...(config.graphqlJit && !telemetrySettings(options.env ?? process.env) ? { gateway: compiledExecution(schema, metrics) } : { schema }),
    // INTROSPECTION=off is a validation rule (src/security/introspection.ts), the same one the WebSocket runs.
    introspection: true,
    // Depth, aliases, tokens and cost: an operation over a limit is refused before any resolver runs (docs/security.md).
    validationRules: [...limitRules(config.limits), ...introspectionRules(config.security.introspection)],
    parseOptions: parseOptions(config.limits),
    formatError: (formatted, error) => formatError(formatted, error, logger, { production: observability.production, suggestions: config.security.suggestions }),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Traces are for Apollo's hosted reporting, which a self-hosted subgraph does not use.
      ApolloServerPluginInlineTraceDisabled(),
      // No field has a cache hint, and its per-field hook was most of the CPU time of a 20,000-item answer;
      // responses still say `cache-control: no-store` (noStorePlugin).
      ApolloServerPluginCacheControlDisabled(),
      noStorePlugin(),
      // GraphQL over HTTP: request errors answered as application/json get 200 (see over-http.ts).
      jsonStatusPlugin(),
      subscriptionOverHttpPlugin(),
      // The IDE at GET /graphql, every asset served here (src/graphql/ide.ts); IDE=off (default in production) serves none.
      ide.enabled ? ideLandingPagePlugin({ endpoint: '/graphql' }) : ApolloServerPluginLandingPageDisabled(),
      auditPlugin(logger),
      operationLogPlugin({ logger, metrics }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  let draining = false;
  app.get('/readyz', async (_req, res) => {
    if (draining) {
      // Load balancers stop sending new work while in-flight requests finish.
      res.status(503).json({ status: 'shutting down' });
      return;
    }
    // Which dependency is down, never why: error texts carry host names, addresses and versions. The log has them.
    const check = (name: string, ping: () => Promise<unknown>) =>
      ping().then(
        () => 'ok' as const,
        (error: unknown) => {
          logger.warn({ err: error, dependency: name }, 'readiness check failed');
          return 'unavailable' as const;
        },
      );
    const [storeState, pubsubState] = await Promise.all([check('store', () => store.ping()), check('pubsub', () => notifier.ping())]);
    const ready = storeState === 'ok' && pubsubState === 'ok';
    res.status(ready ? 200 : 503).json(ready ? { status: 'ready' } : { status: 'unavailable', checks: { store: storeState, pubsub: pubsubState } });
  });

  if (observability.metrics) app.get('/metrics', metricsHandler(metrics, observability.metricsToken));

  // Each receiver reads at most its provider's largest real body (src/callbacks/body.ts), inside its observation.
  const observed = { logger, metrics };
  const callback = (provider: keyof typeof CALLBACK_BODY_LIMITS, handler: express.RequestHandler) =>
    observeCallback(provider, observed, withCallbackBody(CALLBACK_BODY_LIMITS[provider], handler));
  const callbackRoutes = new Map<string, express.RequestHandler>();
  const postCallback = (path: string, handler: express.RequestHandler) => {
    callbackRoutes.set(path, handler);
    app.post(path, handler);
  };
  postCallback(
    CALLBACK_PATHS.etc,
    callback('ETC', etcCallbackHandler({ recorder, secret: config.etc?.callbackSecret, sandboxToken: config.etc?.sandboxCallbackToken, logger })),
  );
  postCallback(
    CALLBACK_PATHS.esign,
    callback(
      'ESIGN',
      esignCallbackHandler({ recorder, rescissions: services.rescissions, credentials: config.esign && { appId: config.esign.appId, appSecret: config.esign.appSecret }, logger }),
    ),
  );
  if (config.tencent) {
    const secrets = { callbackKey: config.tencent.callbackKey, callbackToken: config.tencent.callbackToken };
    postCallback(CALLBACK_PATHS.tencent, callback('TENCENT_ESS', tencentCallbackHandler({ recorder, cancels: services.cancels, store, secrets, logger })));
  }
  postCallback(CALLBACK_PATHS.yuansfer, callback('YUANSFER', yuansferCallbackHandler({ service: services.autoDebits, token: config.yuansfer?.token, logger })));
  callbackPost = directPostRoutes(app, callbackRoutes, { notFound: notFoundHandler(), error: jsonErrorHandler(logger) });

  if (ide.enabled) {
    app.get('/', (_req, res) => res.redirect(302, '/graphql'));
    app.use(IDE_ASSETS_PATH, ideAssetsRouter());
  }
  const cors = corsMiddleware(config.auth.corsOrigins);
  const authenticateHttp = async (req: express.Request) => authenticator.authenticate(expressCredentials(req));
  // The caller is verified once, at the edge; resolvers only ever see ctx.caller.
  const graphqlContext = async (credentials: Credentials) => {
    const caller = await authenticator.authenticate(credentials);
    await rateLimiter.consume(caller);
    return createContext(services, caller);
  };
  app.options('/graphql/stream', cors);
  app.post(
    '/graphql/stream',
    cors,
    ...sseHandler({
      schema,
      services,
      observe: { logger, metrics },
      // The same caller and the same per-caller budget as POST /graphql.
      authenticate: async (req) => {
        const caller = await authenticateHttp(req);
        await rateLimiter.consume(caller);
        return caller;
      },
      allowedOrigins,
      validationRules: [...limitRules(config.limits), ...introspectionRules(config.security.introspection)],
      maxTokens: config.limits.maxTokens,
      logger,
      production: observability.production,
      suggestions: config.security.suggestions,
    }),
  );
  app.use(
    '/graphql',
    cors,
    ideHeaders(),
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, { context: async ({ req }) => graphqlContext(expressCredentials(req)) }),
  );
  graphqlPost = graphqlPostEndpoint({
    apollo,
    context: async (req, body) => graphqlContext(postCredentials(req, body)),
    cors: cors as Parameters<typeof graphqlPostEndpoint>[0]['cors'],
    logger,
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  listeningPort = (httpServer.address() as AddressInfo).port;
  const publicUrl = config.publicUrl ?? localBase();

  let sandbox: Sandbox | undefined;
  if (config.sandbox) {
    // The Tencent emulator knows the account and callback secrets the sandbox client is configured with.
    const tencentAccount =
      config.tencent && typeof config.tencent.endpoint === 'function'
        ? {
            secrets: { [config.tencent.secretId]: config.tencent.secretKey },
            appIds: [config.tencent.appId],
            callbackKey: config.tencent.callbackKey ?? null,
            callbackToken: config.tencent.callbackToken ?? null,
          }
        : {};
    const emulated = emulatedProviders(config);
    sandbox = createSandbox({
      stateFile: stateFilePath(config.dataDir),
      seed: options.sandboxSeed,
      access: { token: config.sandboxAdminToken },
      // A reset also forgets what the store holds about the emulated providers (src/sandbox/store-reset.ts).
      onReset: async () => {
        await resetSandboxRecords(store, emulated);
      },
      ...options.sandbox,
      tencent: { ...tencentAccount, ...options.sandbox?.tencent },
      logger: options.sandbox?.logger ?? logger.child({ component: 'sandbox' }),
      callbackUrl: (provider) => {
        const url = new URL(`${publicUrl}${CALLBACK_PATHS[provider]}`);
        // Only the emulated ETC's own token, never ETC_CALLBACK_SECRET itself; a really configured ETC gets none.
        if (provider === 'etc' && config.etc?.sandboxCallbackToken) url.searchParams.set('token', config.etc.sandboxCallbackToken);
        return url.toString();
      },
    });
    app.use('/sandbox', sandbox.router);
  }
  // Every answer is JSON: unknown routes, unreadable bodies and anything thrown (src/security/http-errors.ts).
  app.use(notFoundHandler());
  app.use(jsonErrorHandler(logger));
  // Resumes cancel tasks a stopped process left running (the sandbox, when on, is reachable from here on).
  services.cancels.start();
  const reconcileLimiter = config.redisUrl
    ? new RedisRateLimiter(config.redisUrl, { ratePerSecond: config.reconcile.readsPerSecond, burst: 1 }, 'esign:ratelimit:', logger)
    : new InMemoryRateLimiter({ ratePerSecond: config.reconcile.readsPerSecond, burst: 1 });
  const reconciler = new Reconciler(
    {
      store,
      providers,
      recorder,
      rescissions: esign ? services.rescissions : undefined,
      // Replicas sharing a database share the lease; another deployment on the same Redis has its own key.
      lease: config.redisUrl
        ? new RedisLease(config.redisUrl, `esign:lease:reconcile:${createHash('sha256').update(config.databaseUrl ?? config.dataDir).digest('hex').slice(0, 16)}`, undefined, logger)
        : new StoreLease(store.leases, 'reconcile'),
      limiter: reconcileLimiter,
    },
    {
      intervalMs: config.reconcile.intervalMs,
      afterMs: config.reconcile.afterMs,
      ...options.reconcile,
      logger: logger.child({ component: 'reconcile' }),
      observer: metrics,
    },
  );
  reconciler.start();

  logger.info({ url: localBase(), publicUrl: redactUrl(publicUrl), sandbox: config.sandbox, store: store.dialect, pubsub: config.redisUrl ? 'redis' : 'in-process' }, 'listening');

  // Tables that would otherwise grow forever, trimmed at start-up and hourly: idempotency keys past their retention,
  // callback receipts older than RECEIPT_RETENTION_DAYS, and provider task results no task of ours claimed within a
  // day (batches someone else started).
  const housekeeping = async (): Promise<void> => {
    const now = Date.now();
    const jobs: Array<[string, () => Promise<number>]> = [
      ['expired idempotency keys', () => store.operations.purgeExpired()],
      ['old callback receipts', () => store.receipts.purgeOlderThan(new Date(now - config.receiptRetentionDays * 86_400_000))],
      ['unclaimed provider task results', () => store.cancelTasks.purgeEarlyResults(new Date(now - 86_400_000))],
      // Reconciliation bookkeeping of records no longer read (settled) for a week.
      ['idle reconciliation state', () => store.reconcile.purgeIdle(new Date(now - 7 * 86_400_000))],
    ];
    if (config.eventRetentionDays !== undefined) {
      const days = config.eventRetentionDays;
      jobs.push(['old events', () => store.events.purgeOlderThan(new Date(now - days * 86_400_000))]);
    }
    for (const [what, job] of jobs) {
      try {
        const deleted = await job();
        if (deleted > 0) logger.info({ deleted }, `purged ${what}`);
      } catch (error) {
        logger.warn({ err: error }, `purging ${what} failed`);
      }
    }
  };
  let housekeepingRun = housekeeping();
  const purge = setInterval(() => {
    housekeepingRun = housekeepingRun.then(housekeeping);
  }, 3600_000);
  purge.unref();

  let closing: Promise<void> | undefined;
  return {
    config,
    port: listeningPort,
    url: localBase(),
    graphqlUrl: `${localBase()}/graphql`,
    wsUrl: `ws://127.0.0.1:${listeningPort}/graphql`,
    services,
    sandbox,
    ide: ide.enabled,
    reconciler,
    close() {
      closing ??= (async () => {
        draining = true;
        clearInterval(purge);
        // Stops accepting connections, lets in-flight HTTP requests (GraphQL and callbacks) finish, and closes
        // WebSocket subscriptions with 1001 (going away) so graphql-ws clients reconnect elsewhere and resume.
        await apollo.stop();
        // Background cancel runs stop after the chunk in flight (stored) and release their tasks for resumption.
        await services.cancels.close();
        // A provider read in flight finishes (a wait for the read budget is cut short); the lease is released so
        // another replica takes over at its next tick.
        await reconciler.close();
        await reconcileLimiter.close();
        await limiter?.close();
        await rateLimiter.close();
        await sandbox?.close();
        await feed.close();
        providers.close();
        yuansfer?.close();
        await notifier.close();
        // A purge in progress finishes (it needs the store) but never holds up draining the server.
        await housekeepingRun;
        await store.close();
        metrics.close();
      })();
      return closing;
    },
  };
}

type Credentials = Parameters<Authenticator['authenticate']>[0];

/** What an HTTP GraphQL request carries for authentication: the header, and (gateway traffic) the signed operation. */
function postCredentials(req: http.IncomingMessage, body: unknown): Credentials {
  const fields = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  return {
    authorization: req.headers.authorization,
    extensions: fields.extensions,
    query: fields.query,
    variables: fields.variables,
    address: req.socket.remoteAddress ?? 'unknown',
  };
}

/** The same for a request Express parsed: a POST's body, or a GET's query string. */
function expressCredentials(req: express.Request): Credentials {
  if (req.method === 'POST') return postCredentials(req, req.body);
  const query = req.method === 'GET' ? (req.query as Record<string, unknown>) : {};
  const parse = (value: unknown) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  };
  return {
    authorization: req.headers.authorization,
    extensions: parse(query.extensions),
    query: query.query,
    variables: parse(query.variables),
    address: req.socket.remoteAddress ?? 'unknown',
  };
}
