import DataLoader from 'dataloader';
import { canSee, type Caller } from '../auth/caller';
import { flowId, parseFlowId, UserErrorCode, type EventSource, type FlowRef, type UserError } from '../domain/model';
import {
  MAX_RESCISSION_FILES,
  MAX_RESCISSION_NOTES,
  RescissionErrorCode,
  rescissionId,
  supersedesRescission,
  type AutoSignOrg,
  type OrgSignerTransactor,
  type RescissionFlowConfig,
  type RescissionInitiator,
  type RescissionProvider,
  type RescissionReason,
  type RescissionStatus,
} from '../domain/rescission';
import type { EventFeed } from '../events/feed';
import { silentLogger, type Logger } from '../logger';
import { ProviderBusinessError, ProviderError, ProviderNotConfiguredError, ProviderNotFoundError } from '../providers/errors';
import type { SignFlowProvider } from '../providers/types';
import type { Rescission } from '../store/rescissions';
import type { Flow, Store, StoredEvent } from '../store/types';
import type { FlowLoader } from './flows';
import { assertActsOn } from './ownership';
import type { Idempotency } from './idempotency';
import type { FlowRecorder } from './recorder';
import { checkCallerUrl, type OriginPolicy } from '../security/urls';

export type RescissionsByFlowLoader = DataLoader<string, Rescission[]>;
export type RescissionLoader = DataLoader<string, Rescission | null>;

/** `initiateRescission`'s input, in the API's names (the GraphQL input maps onto it one to one). */
export interface InitiateRescissionInput {
  signFlowId: string;
  fileIds: string[];
  reason: RescissionReason;
  notes?: string | null;
  initiator: {
    person?: { psnId: string } | null;
    organization?: { orgId: string; transactorPsnId: string } | null;
  };
  notifyUrl?: string | null;
  idempotencyKey?: string | null;
  signFlowConfig?: RescissionFlowConfig | null;
  autoSignOrg?: AutoSignOrg[] | null;
  orgSignerTransactor?: OrgSignerTransactor[] | null;
}

/** Plain JSON, so an idempotent replay returns exactly what the first request returned. */
export interface InitiateRescissionResult {
  rescissionId: string | null;
  userErrors: UserError[];
}

const blank = (value: string | null | undefined): boolean => value === undefined || value === null || value.trim() === '';
const characters = (value: string): number => [...value].length;

function httpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Everything about the input that can be checked without the store or e签宝, each problem naming its field (seed
 * 003's limits, the "exactly one" rules, the charge mode that needs an organisation). Pure; `now` for the expiry.
 */
export function validateRescissionInput(input: InitiateRescissionInput, now: Date): UserError[] {
  const errors: UserError[] = [];
  const add = (field: string[], message: string, code: string = UserErrorCode.INVALID_INPUT) => errors.push({ code, field: ['input', ...field], message });

  const ref = parseFlowId(input.signFlowId);
  if (!ref) {
    add(['signFlowId'], 'signFlowId must be ESIGN:<e签宝 flow id>', UserErrorCode.INVALID_ID);
  } else if (ref.provider !== 'ESIGN') {
    add(['signFlowId'], `rescission is an e签宝 (ESIGN) feature; a ${ref.provider} flow cannot be rescinded`, RescissionErrorCode.RESCISSION_NOT_SUPPORTED);
  }

  if (input.fileIds.length === 0 || input.fileIds.length > MAX_RESCISSION_FILES) {
    add(['fileIds'], `fileIds must name 1 to ${MAX_RESCISSION_FILES} files of the flow (got ${input.fileIds.length})`);
  } else {
    input.fileIds.forEach((id, i) => {
      if (blank(id)) add(['fileIds', String(i)], 'a file id must not be empty');
    });
    const repeated = input.fileIds.find((id, i) => input.fileIds.indexOf(id) !== i);
    if (repeated !== undefined) add(['fileIds'], `fileIds names ${repeated} twice`);
  }

  if (input.notes && characters(input.notes) > MAX_RESCISSION_NOTES) {
    add(['notes'], `notes must be at most ${MAX_RESCISSION_NOTES} characters (got ${characters(input.notes)})`);
  }

  const { person, organization } = input.initiator;
  if ((person ? 1 : 0) + (organization ? 1 : 0) !== 1) {
    add(['initiator'], 'initiator must have exactly one of person or organization');
  } else if (person && blank(person.psnId)) {
    add(['initiator', 'person', 'psnId'], 'psnId must not be empty');
  } else if (organization) {
    if (blank(organization.orgId)) add(['initiator', 'organization', 'orgId'], 'orgId must not be empty');
    if (blank(organization.transactorPsnId)) add(['initiator', 'organization', 'transactorPsnId'], 'transactorPsnId must not be empty');
  }

  if (input.notifyUrl !== undefined && input.notifyUrl !== null && !httpUrl(input.notifyUrl)) {
    add(['notifyUrl'], 'notifyUrl must be an http(s) URL');
  }

  const config = input.signFlowConfig;
  if (config?.expireTime && config.expireTime.getTime() <= now.getTime()) {
    add(['signFlowConfig', 'expireTime'], 'expireTime must be in the future');
  }
  if (config?.charge?.mode === 'INITIATOR_ORGANIZATION' && !organization) {
    add(['signFlowConfig', 'charge', 'mode'], 'charge mode INITIATOR_ORGANIZATION needs an organization initiator (the organisation that pays)');
  }
  if (config?.sign?.availableSignClientTypes && config.sign.availableSignClientTypes.length === 0) {
    add(['signFlowConfig', 'sign', 'availableSignClientTypes'], 'availableSignClientTypes must list at least one client type, or be left out');
  }
  if (config?.sign?.psnSealStyles && config.sign.psnSealStyles.length === 0) {
    add(['signFlowConfig', 'sign', 'psnSealStyles'], 'psnSealStyles must list at least one style, or be left out');
  }

  // "orgName与orgId二选一", and one organisation signs either automatically or through a transactor (seed 003).
  const orgOf = (entry: { orgId?: string | null; orgName?: string | null }, field: string[]): string | undefined => {
    if (blank(entry.orgId) === blank(entry.orgName)) {
      add(field, 'give exactly one of orgId or orgName');
      return undefined;
    }
    return blank(entry.orgId) ? `orgName ${entry.orgName}` : `orgId ${entry.orgId}`;
  };
  const autoSigned = new Set<string>();
  (input.autoSignOrg ?? []).forEach((entry, i) => {
    const org = orgOf(entry, ['autoSignOrg', String(i)]);
    if (blank(entry.sealId)) add(['autoSignOrg', String(i), 'sealId'], 'sealId must not be empty: automatic signing needs the organisation seal');
    if (org) autoSigned.add(org);
  });
  (input.orgSignerTransactor ?? []).forEach((entry, i) => {
    const field = ['orgSignerTransactor', String(i)];
    const org = orgOf(entry, field);
    if (!org) return;
    const info = entry.transactorInfo;
    if (!blank(entry.orgId) && blank(info.psnId)) add([...field, 'transactorInfo', 'psnId'], 'psnId is required when the organisation is given by orgId');
    if (!blank(entry.orgName) && blank(info.psnAccount)) add([...field, 'transactorInfo', 'psnAccount'], 'psnAccount is required when the organisation is given by orgName');
    if (autoSigned.has(org)) {
      add(field, `${org} is in autoSignOrg too: an organisation signs either automatically or through a transactor, not both`);
    }
  });
  return errors;
}

/** The flow's file ids when e签宝 told us them (the detail query stores them); undefined when unknown. */
export function fileIdsOf(flow: Flow | undefined | null): string[] | undefined {
  const ids = flow?.data?.fileIds;
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string') ? (ids as string[]) : undefined;
}

/** A statement about a rescission's status from a callback or our own mutation. */
export interface RescissionReport {
  /** The original flow. */
  signFlow: FlowRef;
  rescissionFlowId: string;
  status: RescissionStatus;
  /** The callback's action (and code), or null for our own mutation. */
  providerStatus: string | null;
  source: EventSource;
  occurredAt?: Date | null;
  fileIds?: string[] | null;
  reason?: RescissionReason | null;
  notes?: string | null;
  data?: Record<string, unknown> | null;
  receipt?: { dedupeKey: string; body: string };
  /** `sub` of the caller whose mutation this report records. */
  actor?: string | null;
}

export interface RescissionRecordResult {
  /** The same callback was already received: nothing was written. */
  duplicate: boolean;
  rescission: Rescission;
  event?: StoredEvent;
}

/**
 * Writes rescission reports like FlowRecorder writes flows: receipt, row and 'rescission' event in one
 * transaction, then wakes subscribers. A status only moves forward (see supersedesRescission).
 */
export class RescissionRecorder {
  constructor(
    private readonly store: Store,
    private readonly feed: Pick<EventFeed, 'published'>,
  ) {}

  async record(report: RescissionReport): Promise<RescissionRecordResult> {
    const id = rescissionId(report.rescissionFlowId);
    const result = await this.store.transaction(async (tx): Promise<RescissionRecordResult> => {
      if (report.receipt) {
        const fresh = await tx.receipts.insert({ provider: 'ESIGN', dedupeKey: report.receipt.dedupeKey, body: report.receipt.body });
        const existing = fresh ? undefined : await tx.rescissions.get(id);
        if (existing) return { duplicate: true, rescission: existing };
      }
      const current = await tx.rescissions.get(id);
      const changes = !current || supersedesRescission(current.status, report.status);
      // A rescission belongs to the tenant of the flow it rescinds, however the API first heard of it.
      const tenant = current ? undefined : ((await tx.flows.get(flowId(report.signFlow)))?.tenant ?? null);
      const rescission = await tx.rescissions.save({
        tenant,
        id,
        signFlowId: flowId(report.signFlow),
        rescissionFlowId: report.rescissionFlowId,
        status: changes ? report.status : (current as Rescission).status,
        fileIds: report.fileIds,
        reason: report.reason,
        notes: report.notes,
        data: report.data,
      });
      if (!changes) return { duplicate: false, rescission };
      const event = await tx.events.append({
        actor: report.actor ?? null,
        kind: 'rescission',
        subjectId: id,
        provider: 'ESIGN',
        status: rescission.status,
        providerStatus: report.providerStatus,
        source: report.source,
        occurredAt: report.occurredAt ?? null,
        data: { signFlowId: rescission.signFlowId, rescissionFlowId: rescission.rescissionFlowId, fileIds: rescission.fileIds },
      });
      if (report.receipt) await tx.receipts.linkEvent('ESIGN', report.receipt.dedupeKey, event.id);
      return { duplicate: false, rescission, event };
    });
    if (result.event) this.feed.published(result.event);
    return result;
  }
}

/** The providerStatus of a flow the API marks RESCINDED (see providers/esign/mapping.ts). */
const RESCINDED_PROVIDER_STATUS = 'rescission:3';

const AGREEMENT_FAILED: ReadonlySet<string> = new Set(['REVOKED', 'EXPIRED', 'REJECTED']);

export interface RescissionServiceDeps {
  store: Store;
  /** The e签宝 client; undefined when e签宝 is not configured (operations answer PROVIDER_NOT_CONFIGURED). */
  provider?: RescissionProvider & Pick<SignFlowProvider, 'fetchFlows'>;
  flows: FlowRecorder;
  rescissions: RescissionRecorder;
  idempotency: Idempotency;
  /** Where e签宝 sends a rescission's callbacks unless the request names its own notifyUrl. */
  defaultNotifyUrl: () => string;
  /**
   * Where a request's own notifyUrl may point (ESIGN_NOTIFY_ORIGINS and this API's own origin; loopback in sandbox
   * mode). Unset: anywhere.
   */
  notifyUrls?: () => OriginPolicy;
  logger?: Logger;
}

/**
 * Rescission use cases: initiate (validation → idempotency → e签宝 → record), lookups, and what callbacks about
 * rescissions do to the rescission and to the original flow.
 */
export class RescissionService {
  private readonly logger: Logger;

  constructor(private readonly deps: RescissionServiceDeps) {
    this.logger = deps.logger ?? silentLogger;
  }

  private provider(): RescissionProvider & Pick<SignFlowProvider, 'fetchFlows'> {
    if (!this.deps.provider) throw new ProviderNotConfiguredError('ESIGN');
    return this.deps.provider;
  }

  get(id: string): Promise<Rescission | undefined> {
    return this.deps.store.rescissions.get(id);
  }

  /** A per-request loader of rescissions by id, one store query per batch. */
  createLoader(caller: Caller): RescissionLoader {
    return new DataLoader<string, Rescission | null>(
      async (ids) => {
        const found = await this.deps.store.rescissions.getMany(ids);
        return ids.map((id) => {
          const rescission = found.get(id);
          return rescission && canSee(caller, rescission.tenant) ? rescission : null;
        });
      },
      { maxBatchSize: 1000 },
    );
  }

  /** A per-request loader of each flow's rescissions, one store query per batch. */
  createByFlowLoader(caller: Caller): RescissionsByFlowLoader {
    return new DataLoader<string, Rescission[]>(async (ids) => {
      const found = await this.deps.store.rescissions.listBySignFlows(ids);
      return ids.map((id) => (found.get(id) ?? []).filter((rescission) => canSee(caller, rescission.tenant)));
    });
  }

  async initiate(input: InitiateRescissionInput, loader: FlowLoader, caller: Caller): Promise<InitiateRescissionResult> {
    const invalid = validateRescissionInput(input, new Date());
    const policy = this.deps.notifyUrls?.();
    if (policy && invalid.length === 0 && input.notifyUrl !== undefined && input.notifyUrl !== null) {
      // e签宝 would post the rescission's callbacks, signed with our AppSecret, wherever the caller says.
      const notAllowed = checkCallerUrl(input.notifyUrl, policy, ['input', 'notifyUrl'], 'ESIGN_NOTIFY_ORIGINS');
      if (notAllowed) invalid.push(notAllowed);
    }
    if (invalid.length > 0) return { rescissionId: null, userErrors: invalid };
    const ref = parseFlowId(input.signFlowId) as FlowRef;
    const provider = this.provider();
    const refuse = (error: UserError): InitiateRescissionResult => ({ rescissionId: null, userErrors: [error] });
    const onFlow = (code: string, message: string): InitiateRescissionResult => refuse({ code, field: ['input', 'signFlowId'], message });
    // Plain JSON for the input hash: a Date would otherwise hash as {}.
    const plain = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;

    return this.deps.idempotency.run(caller, input.idempotencyKey, 'initiateRescission', plain, async () => {
      await assertActsOn(this.deps.store, caller, 'signflow', input.signFlowId, (await this.deps.store.flows.get(input.signFlowId))?.tenant);
      loader.clear(input.signFlowId);
      const flow = await loader.load(input.signFlowId);
      if (!flow) return onFlow(UserErrorCode.FLOW_NOT_FOUND, `e签宝 does not know the flow ${ref.providerFlowId}`);
      if (flow.status !== 'COMPLETED') {
        return onFlow(RescissionErrorCode.FLOW_NOT_COMPLETED, `the flow is ${flow.status}; only a COMPLETED flow can be rescinded`);
      }
      const known = fileIdsOf(flow);
      const foreign = known ? input.fileIds.findIndex((id) => !known.includes(id)) : -1;
      if (foreign >= 0) {
        return refuse({
          code: RescissionErrorCode.FILE_NOT_IN_FLOW,
          field: ['input', 'fileIds', String(foreign)],
          message: `${input.fileIds[foreign]} is not a file of the flow (its files: ${(known as string[]).join(', ')})`,
        });
      }
      const { person, organization } = input.initiator;
      const initiator: RescissionInitiator = person
        ? { kind: 'person', psnId: person.psnId }
        : { kind: 'organization', orgId: organization!.orgId, transactorPsnId: organization!.transactorPsnId };
      const notifyUrl = input.notifyUrl ?? this.deps.defaultNotifyUrl();
      let rescissionFlowId: string;
      try {
        ({ rescissionFlowId } = await provider.initiateRescission({
          providerFlowId: ref.providerFlowId,
          fileIds: input.fileIds,
          reason: input.reason,
          notes: input.notes,
          initiator,
          notifyUrl,
          signFlowConfig: input.signFlowConfig,
          autoSignOrg: input.autoSignOrg,
          orgSignerTransactor: input.orgSignerTransactor,
        }));
      } catch (error) {
        if (error instanceof ProviderNotFoundError) return onFlow(UserErrorCode.FLOW_NOT_FOUND, `e签宝 does not know the flow ${ref.providerFlowId}`);
        if (error instanceof ProviderBusinessError) {
          // A refusal often means we missed something (the flow was rescinded meanwhile): re-read it.
          await this.resync(ref, loader);
          return onFlow(RescissionErrorCode.RESCISSION_REFUSED, `e签宝 refused the rescission: ${error.message}`);
        }
        throw error;
      }
      const { rescission } = await this.recordInitiated({
        signFlow: ref,
        rescissionFlowId,
        status: 'INITIATED',
        providerStatus: null,
        source: 'MUTATION',
        occurredAt: new Date(),
        fileIds: input.fileIds,
        reason: input.reason,
        notes: input.notes ?? null,
        data: { initiator, notifyUrl },
        actor: caller.sub,
      });
      return { rescissionId: rescission.id, userErrors: [] };
    }, refuse);
  }

  /**
   * Records a rescission as INITIATED (our mutation, or SIGN_FILE_RESCISSION_INITIATE). When the agreement's own
   * flow already ended unsigned (its callback came first), the rescission is recorded FAILED instead.
   */
  async recordInitiated(report: RescissionReport): Promise<RescissionRecordResult> {
    const agreement = await this.deps.store.flows.get(flowId({ provider: 'ESIGN', providerFlowId: report.rescissionFlowId }));
    const failed = agreement !== undefined && AGREEMENT_FAILED.has(agreement.status);
    return this.deps.rescissions.record(failed ? { ...report, status: 'FAILED' } : report);
  }

  /**
   * SIGN_FILE_RESCINDED: the rescission is RESCINDED, and the original flow becomes RESCINDED once every one of its
   * files is rescinded. Safe to repeat (a retried callback runs it again after a failure part-way).
   */
  async recordRescinded(report: RescissionReport): Promise<RescissionRecordResult> {
    const result = await this.deps.rescissions.record(report);
    await this.settleOriginal(report.signFlow, report.occurredAt ?? null, report.source);
    return result;
  }

  /** A rescission agreement's flow ended: unsigned (revoked, rejected, expired) means the rescission FAILED. */
  async agreementEnded(agreementFlowId: string, status: string, providerStatus: string, occurredAt: Date | null, source: EventSource): Promise<void> {
    if (!AGREEMENT_FAILED.has(status)) return;
    const rescission = await this.deps.store.rescissions.get(rescissionId(agreementFlowId));
    if (!rescission) return;
    const ref = parseFlowId(rescission.signFlowId) as FlowRef;
    await this.deps.rescissions.record({ signFlow: ref, rescissionFlowId: agreementFlowId, status: 'FAILED', providerStatus, source, occurredAt });
  }

  /** Marks the original flow RESCINDED when the rescinded files cover all of its files. */
  private async settleOriginal(ref: FlowRef, occurredAt: Date | null, source: EventSource): Promise<void> {
    const id = flowId(ref);
    let files = fileIdsOf(await this.deps.store.flows.get(id));
    if (!files) {
      // Learned from callbacks only: ask e签宝 for the file list (a failure here fails the callback, which is retried).
      const snapshot = (await this.provider().fetchFlows([ref.providerFlowId])).get(ref.providerFlowId);
      if (snapshot) {
        const { flow } = await this.deps.flows.record({
          ref,
          status: snapshot.status,
          providerStatus: snapshot.providerStatus,
          source: 'SYNC',
          endedAt: snapshot.endedAt,
          data: snapshot.data,
        });
        files = fileIdsOf(flow);
      }
    }
    const rescinded = new Set(
      ((await this.deps.store.rescissions.listBySignFlows([id])).get(id) ?? []).filter((r) => r.status === 'RESCINDED').flatMap((r) => r.fileIds),
    );
    // With no file list at all (e签宝 no longer knows the flow), the rescission is taken to cover the flow.
    if (files && !files.every((f) => rescinded.has(f))) return;
    await this.deps.flows.record({ ref, status: 'RESCINDED', providerStatus: RESCINDED_PROVIDER_STATUS, source, occurredAt });
  }

  private async resync(ref: FlowRef, loader: FlowLoader): Promise<void> {
    try {
      const snapshot = (await this.provider().fetchFlows([ref.providerFlowId])).get(ref.providerFlowId);
      if (snapshot) {
        await this.deps.flows.record({ ref, status: snapshot.status, providerStatus: snapshot.providerStatus, source: 'SYNC', endedAt: snapshot.endedAt, data: snapshot.data });
        loader.clear(flowId(ref));
      }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      this.logger.info({ provider: 'ESIGN', err: error.message }, 'could not re-read a flow after a refused rescission');
    }
  }
}
