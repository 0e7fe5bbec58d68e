import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { canSee, type Caller } from '../auth/caller';
import { flowId, isTerminal, parseFlowId, UserErrorCode, type SignProvider, type UserError } from '../domain/model';
import { silentLogger, type Logger } from '../logger';
import { ProviderBusinessError, ProviderError, ProviderNotFoundError } from '../providers/errors';
import type { ProviderRegistry } from '../providers/registry';
import type { ProviderFlowSnapshot } from '../providers/types';
import type { Flow, Store } from '../store/types';
import { chunk } from '../util/arrays';
import type { Idempotency } from './idempotency';
import { assertActsOn } from './ownership';
import { syncReport, type FlowRecorder } from './recorder';

export type FlowLoader = DataLoader<string, Flow | null>;
/** Store-only: null for a flow the store has never seen, and never a provider call. */
export type StoredFlowLoader = DataLoader<string, Flow | null>;

export interface RevokeInput {
  id: string;
  reason?: string | null;
  etcMemberNo?: string | null;
  cancelMessageFormat?: number | null;
  idempotencyKey?: string | null;
  /** Tencent's Agent the caller acts as; absent: the configured one. */
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string } | null;
}

/** Plain JSON, so an idempotent replay returns exactly what the first request returned. */
export interface RevokeResult {
  signFlowId: string | null;
  userErrors: UserError[];
}

function tooCostly(id: string, limit: number): GraphQLError {
  return new GraphQLError(
    `${id} is not read from its provider: this operation already made the ${limit} provider reads one operation may (PROVIDER_READS_PER_OPERATION); ask for the rest in another operation`,
    { extensions: { code: 'OPERATION_TOO_COSTLY', limit: 'PROVIDER_READS_PER_OPERATION' } },
  );
}

const within = (path: string[] | undefined): string[] => ['input', ...(path ?? [])];

/** Sign-flow use cases: read-through lookups and revocation, over whichever provider owns the flow. */
export class FlowService {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly recorder: FlowRecorder,
    private readonly idempotency: Idempotency,
    private readonly logger: Logger = silentLogger,
  ) {}

  /**
   * A per-request loader: every flow id asked for while resolving one operation is looked up with one store query,
   * and the ones the store has never seen with one provider call per provider and batch.
   */
  createLoader(caller: Caller, readsPerOperation = Number.POSITIVE_INFINITY): FlowLoader {
    const budget = { remaining: readsPerOperation, limit: readsPerOperation };
    return new DataLoader<string, Flow | null>(
      async (ids) => (await this.loadMany(ids, caller.tenant, budget)).map((flow) => (flow && !(flow instanceof Error) && !canSee(caller, flow.tenant) ? null : flow)),
      { maxBatchSize: 1000 },
    );
  }

  /** A per-request loader that never reads through: for lists (a cancel task's items) that may name thousands of flows. */
  createStoredLoader(caller: Caller): StoredFlowLoader {
    return new DataLoader<string, Flow | null>(
      async (ids) => {
        const stored = await this.store.flows.getMany(ids);
        return ids.map((id) => {
          const flow = stored.get(id);
          return flow && canSee(caller, flow.tenant) ? flow : null;
        });
      },
      { maxBatchSize: 1000 },
    );
  }

  /**
   * Stored flows, and the unknown ones read through and created with `tenant` (who asked first). At most
   * `budget.remaining` flows are read from providers (PROVIDER_READS_PER_OPERATION, across the whole operation);
   * the others answer OPERATION_TOO_COSTLY without any provider call.
   */
  private async loadMany(ids: readonly string[], tenant: string | null, budget: { remaining: number; limit: number }): Promise<(Flow | null | Error)[]> {
    const stored = await this.store.flows.getMany(ids);
    const results = new Map<string, Flow | null | Error>(stored);
    const missing = new Map<SignProvider, string[]>();
    for (const id of ids) {
      if (results.has(id)) continue;
      const ref = parseFlowId(id);
      if (!ref) {
        results.set(id, null);
        continue;
      }
      const list = missing.get(ref.provider) ?? [];
      if (list.includes(ref.providerFlowId)) continue;
      if (budget.remaining <= 0) {
        results.set(id, tooCostly(id, budget.limit));
        continue;
      }
      budget.remaining -= 1;
      list.push(ref.providerFlowId);
      missing.set(ref.provider, list);
    }
    await Promise.all(
      [...missing].map(async ([providerName, providerIds]) => {
        // Read chunk by chunk (the provider's batch size and rate), then record every snapshot together, so the
        // recorder's group commit writes them in one transaction with one read of the flows.
        const read: { providerFlowId: string; snapshot: ProviderFlowSnapshot }[] = [];
        let failure: unknown;
        try {
          const provider = this.providers.get(providerName);
          for (const batch of chunk(providerIds, provider.maxFetchBatch)) {
            const snapshots = await provider.fetchFlows(batch);
            for (const providerFlowId of batch) {
              const snapshot = snapshots.get(providerFlowId);
              if (snapshot) read.push({ providerFlowId, snapshot });
              else results.set(flowId({ provider: providerName, providerFlowId }), null);
            }
          }
        } catch (error) {
          failure = error;
        }
        await Promise.all(
          read.map(async ({ providerFlowId, snapshot }) => {
            const id = flowId({ provider: providerName, providerFlowId });
            try {
              const { flow } = await this.recorder.record(syncReport(providerName, snapshot, { tenant }));
              results.set(id, flow);
            } catch (error) {
              results.set(id, error as Error);
            }
          }),
        );
        if (failure !== undefined) {
          for (const providerFlowId of providerIds) {
            const id = flowId({ provider: providerName, providerFlowId });
            if (!results.has(id)) results.set(id, failure as Error);
          }
        }
      }),
    );
    return ids.map((id) => results.get(id) ?? null);
  }

  async revoke(input: RevokeInput, loader: FlowLoader, caller: Caller): Promise<RevokeResult> {
    const ref = parseFlowId(input.id);
    if (!ref) {
      return {
        signFlowId: null,
        userErrors: [{ code: UserErrorCode.INVALID_ID, field: ['input', 'id'], message: 'id must be <SignProvider>:<provider flow id>, e.g. ETC:c64665aa4f1c45679e65b6fae33cd773' }],
      };
    }
    const provider = this.providers.get(ref.provider);
    const request = {
      providerFlowId: ref.providerFlowId,
      reason: input.reason,
      etcMemberNo: input.etcMemberNo,
      cancelMessageFormat: input.cancelMessageFormat,
      tencentAgent: input.tencentAgent ?? undefined,
    };
    const invalid = provider.validateRevoke(request);
    if (invalid.length > 0) {
      return { signFlowId: null, userErrors: invalid.map((e) => ({ ...e, field: within(e.field) })) };
    }
    const refuse = (error: UserError): RevokeResult => ({ signFlowId: null, userErrors: [error] });
    return this.idempotency.run(caller, input.idempotencyKey, 'revokeSignFlow', { ...input }, async () => {
      // Another tenant's flow is refused before anything reaches the provider; an unowned one becomes the caller's.
      await assertActsOn(this.store, caller, 'signflow', input.id, (await this.store.flows.get(input.id))?.tenant);
      loader.clear(input.id);
      const flow = await loader.load(input.id);
      if (!flow) {
        return refuse({ code: UserErrorCode.FLOW_NOT_FOUND, field: ['input', 'id'], message: `${ref.provider} does not know the flow ${ref.providerFlowId}` });
      }
      if (isTerminal(flow.status)) {
        return {
          signFlowId: flow.id,
          userErrors: [{ code: UserErrorCode.FLOW_NOT_REVOCABLE, field: ['input', 'id'], message: `the flow is ${flow.status}; only an unfinished flow can be revoked` }],
        };
      }
      try {
        const outcome = await provider.revoke(request);
        loader.clear(flow.id);
        await this.recorder.record({ ref, status: outcome.status, providerStatus: outcome.providerStatus, source: 'MUTATION', occurredAt: new Date(), endedAt: new Date(), actor: caller.sub });
        return { signFlowId: flow.id, userErrors: [] };
      } catch (error) {
        if (error instanceof ProviderNotFoundError) {
          return refuse({ code: UserErrorCode.FLOW_NOT_FOUND, field: ['input', 'id'], message: `${ref.provider} does not know the flow ${ref.providerFlowId}` });
        }
        if (error instanceof ProviderBusinessError) {
          await this.resync(ref.provider, ref.providerFlowId, loader, flow.id);
          return {
            signFlowId: flow.id,
            userErrors: [{ code: UserErrorCode.FLOW_NOT_REVOCABLE, field: ['input', 'id'], message: `${ref.provider} refused to revoke the flow: ${error.message}` }],
          };
        }
        throw error;
      }
    }, refuse);
  }

  /** After a refusal the provider usually knows something we missed (a lost callback): fetch and record it. */
  private async resync(provider: SignProvider, providerFlowId: string, loader: FlowLoader, id: string): Promise<void> {
    try {
      const snapshot = (await this.providers.get(provider).fetchFlows([providerFlowId])).get(providerFlowId);
      if (snapshot) {
        await this.recorder.record({ ref: { provider, providerFlowId }, status: snapshot.status, providerStatus: snapshot.providerStatus, source: 'SYNC', endedAt: snapshot.endedAt });
        loader.clear(id);
      }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      this.logger.info({ provider, err: error.message }, 'could not re-read a flow after a refused revoke');
    }
  }
}
