import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { canSee, type Caller } from '../auth/caller';
import {
  AUTO_DEBIT_NO,
  AUTO_DEBIT_PROVIDER,
  AutoDebitErrorCode,
  autoDebitId,
  parseAutoDebitId,
  supersedesAutoDebit,
  type AutoDebitStatus,
} from '../domain/autodebit';
import { UserErrorCode, type EventSource, type UserError } from '../domain/model';
import type { EventFeed } from '../events/feed';
import { silentLogger, type Logger } from '../logger';
import { ProviderBusinessError, ProviderNotConfiguredError, ProviderNotFoundError } from '../providers/errors';
import type { ConsultResult, YuansferClient } from '../providers/yuansfer/client';
import {
  NOTICE_STATUS,
  RET_CODES,
  YUANSFER,
  YUANSFER_VENDORS,
  type YuansferNoticeKind,
  type YuansferOsType,
  type YuansferTerminal,
} from '../providers/yuansfer/mapping';
import type { AutoDebit } from '../store/auto-debits';
import type { Store, StoredEvent } from '../store/types';
import type { Idempotency } from './idempotency';
import { assertActsOn } from './ownership';
import { checkCallerUrl, type OriginPolicy } from '../security/urls';

// ---------------------------------------------------------------------------------------------------------------
// Recording

/** A statement about an authorization's status from any source: an IPN, our own mutation, a provider refusal. */
export interface AutoDebitReport {
  autoDebitNo: string;
  status: AutoDebitStatus;
  source: EventSource;
  /** Used when the report creates the row (an IPN about an authorization the store never saw). */
  merchantNo: string;
  storeNo: string;
  autoReference?: string | null;
  vendor?: string | null;
  /** What the provider said, untranslated: the IPN kind, a ret_code. */
  providerStatus?: string | null;
  /** When the provider says it happened. */
  occurredAt?: Date | null;
  data?: Record<string, unknown> | null;
  /** For IPNs: the dedupe identity of this notice and its raw body. */
  receipt?: { dedupeKey: string; body: string };
  /** The tenant an authorization this report creates belongs to. */
  tenant?: string | null;
  /** `sub` of the caller whose mutation this report records. */
  actor?: string | null;
}

export interface AutoDebitRecordResult {
  /** The same IPN was already received: nothing was written. */
  duplicate: boolean;
  autoDebit: AutoDebit;
  /** The event appended, when the report changed the status (or first made the authorization known). */
  event?: StoredEvent;
}

/**
 * Writes authorization reports: the IPN receipt, the row and its 'autodebit' event in one transaction, then wakes
 * subscribers. Every status an authorization gets goes through here, so `autoDebitEvents` replays the whole truth.
 */
export class AutoDebitRecorder {
  constructor(
    private readonly store: Store,
    private readonly feed: Pick<EventFeed, 'published'>,
  ) {}

  async record(report: AutoDebitReport): Promise<AutoDebitRecordResult> {
    const id = autoDebitId(report.autoDebitNo);
    const result = await this.store.transaction(async (tx): Promise<AutoDebitRecordResult> => {
      if (report.receipt) {
        const fresh = await tx.receipts.insert({ provider: YUANSFER, dedupeKey: report.receipt.dedupeKey, body: report.receipt.body });
        if (!fresh) {
          const known = await tx.autoDebits.get(id);
          if (known) return { duplicate: true, autoDebit: known };
        }
      }
      const current = await tx.autoDebits.get(id);
      const changes = !current || supersedesAutoDebit(current.status, report.status);
      const autoDebit = await tx.autoDebits.save({
        id,
        autoDebitNo: report.autoDebitNo,
        status: changes ? report.status : (current as AutoDebit).status,
        merchantNo: report.merchantNo,
        storeNo: report.storeNo,
        autoReference: report.autoReference,
        vendor: report.vendor,
        data: report.data,
        tenant: report.tenant,
      });
      if (!changes) return { duplicate: false, autoDebit };
      const event = await tx.events.append({
        actor: report.actor ?? null,
        kind: 'autodebit',
        subjectId: id,
        provider: AUTO_DEBIT_PROVIDER,
        status: report.status,
        providerStatus: report.providerStatus ?? null,
        source: report.source,
        occurredAt: report.occurredAt ?? null,
        data: null,
      });
      if (report.receipt) await tx.receipts.linkEvent(YUANSFER, report.receipt.dedupeKey, event.id);
      return { duplicate: false, autoDebit, event };
    });
    if (result.event) this.feed.published(result.event);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Use cases

export type AutoDebitLoader = DataLoader<string, AutoDebit | null>;

export interface StartAutoDebitInput {
  vendor: string;
  terminal: YuansferTerminal;
  redirectUrl: string;
  reference?: string | null;
  note?: string | null;
  osType?: YuansferOsType | null;
  osVersion?: string | null;
  merchantNo?: string | null;
  storeNo?: string | null;
  idempotencyKey?: string | null;
}

/** Plain JSON, so an idempotent replay returns exactly what the first request returned. */
export interface StartAutoDebitResult {
  autoDebitId: string | null;
  authUrl: string | null;
  userErrors: UserError[];
}

export interface RevokeAutoDebitInput {
  autoDebitNo: string;
  merchantNo?: string | null;
  storeNo?: string | null;
  idempotencyKey?: string | null;
}

export interface RevokeAutoDebitResult {
  autoDebitId: string | null;
  userErrors: UserError[];
}

/** An authorization IPN, verified and validated by the receiver. */
export interface AutoDebitNotice {
  kind: YuansferNoticeKind;
  autoDebitNo: string;
  autoReference: string | null;
  vendor: string | null;
  note: string | null;
  /** `time`, read on Yuansfer's UTC+8 clock. */
  time: Date;
  /** The receiver's dedupe identity of this notice and the raw body. */
  receipt: { dedupeKey: string; body: string };
}

/**
 * Limits the docs leave open, chosen generously: long enough for any real reference, short enough that a mistake
 * (a whole document pasted as a note) is refused here rather than by the provider.
 */
export const MAX_REFERENCE_LENGTH = 64;
export const MAX_NOTE_LENGTH = 255;
export const MAX_URL_LENGTH = 1024;
const MERCHANT_OR_STORE = /^[A-Za-z0-9]{1,32}$/;
const REFERENCE = /^[A-Za-z0-9_\-.:]+$/;

const characters = (value: string): number => [...value].length;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export interface AutoDebitServiceOptions {
  /** Where Yuansfer posts IPNs: `<PUBLIC_URL>/callbacks/yuansfer`, read when a consult is sent. */
  ipnUrl: () => string;
  /** Where `redirectUrl` may send the payer (YUANSFER_REDIRECT_ORIGINS; loopback in sandbox mode). Unset: anywhere. */
  redirectUrls?: OriginPolicy;
  logger?: Logger;
}

/** Auto-debit use cases: start an authorization, take in its IPNs, revoke it. */
export class AutoDebitService {
  private readonly logger: Logger;

  constructor(
    private readonly store: Store,
    /** Undefined when Yuansfer is not configured: its mutations answer PROVIDER_NOT_CONFIGURED. */
    private readonly client: YuansferClient | undefined,
    private readonly recorder: AutoDebitRecorder,
    private readonly idempotency: Idempotency,
    private readonly options: AutoDebitServiceOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /** A per-request loader: every authorization asked for while resolving one operation, in one store query. */
  createLoader(caller: Caller): AutoDebitLoader {
    return new DataLoader<string, AutoDebit | null>(
      async (ids) => {
        const found = await this.store.autoDebits.getMany(ids.filter((id) => parseAutoDebitId(id) !== undefined));
        return ids.map((id) => {
          const autoDebit = found.get(id);
          return autoDebit && canSee(caller, autoDebit.tenant) ? autoDebit : null;
        });
      },
      { maxBatchSize: 1000 },
    );
  }

  private yuansfer(): YuansferClient {
    if (!this.client) throw new ProviderNotConfiguredError(YUANSFER);
    return this.client;
  }

  /** Checks the input against the provider's documented rules before any call; fields are GraphQL input paths. */
  validateStart(input: StartAutoDebitInput): UserError[] {
    const errors: UserError[] = [];
    const refuse = (field: string, message: string) => errors.push({ code: UserErrorCode.INVALID_INPUT, field: ['input', field], message });
    if (!(YUANSFER_VENDORS as readonly string[]).includes(input.vendor.toLowerCase())) {
      refuse('vendor', `vendor must be one of ${YUANSFER_VENDORS.join(', ')}`);
    }
    if (input.terminal !== 'ONLINE') {
      if (!input.osType) refuse('osType', `osType is required when the terminal is ${input.terminal}`);
      if (!input.osVersion || input.osVersion.trim() === '') refuse('osVersion', `osVersion is required when the terminal is ${input.terminal}`);
    }
    if (input.osVersion && characters(input.osVersion) > 32) refuse('osVersion', 'osVersion must be at most 32 characters');
    if (characters(input.redirectUrl) > MAX_URL_LENGTH || !isHttpUrl(input.redirectUrl)) {
      refuse('redirectUrl', `redirectUrl must be an http(s) URL of at most ${MAX_URL_LENGTH} characters`);
    } else if (this.options.redirectUrls) {
      // An authorization page that sends the payer anywhere a caller names is an open redirect on the merchant's name.
      const notAllowed = checkCallerUrl(input.redirectUrl, this.options.redirectUrls, ['input', 'redirectUrl'], 'YUANSFER_REDIRECT_ORIGINS');
      if (notAllowed) errors.push(notAllowed);
    }
    if (input.reference !== undefined && input.reference !== null) {
      if (input.reference.length === 0 || input.reference.length > MAX_REFERENCE_LENGTH || !REFERENCE.test(input.reference)) {
        refuse('reference', `reference must be 1 to ${MAX_REFERENCE_LENGTH} letters, digits, "_", "-", "." or ":"`);
      }
    }
    if (input.note && characters(input.note) > MAX_NOTE_LENGTH) refuse('note', `note must be at most ${MAX_NOTE_LENGTH} characters`);
    errors.push(...this.validateMerchant(input));
    return errors;
  }

  private validateMerchant(input: { merchantNo?: string | null; storeNo?: string | null }): UserError[] {
    const errors: UserError[] = [];
    for (const field of ['merchantNo', 'storeNo'] as const) {
      const value = input[field];
      if (value !== undefined && value !== null && !MERCHANT_OR_STORE.test(value)) {
        errors.push({ code: UserErrorCode.INVALID_INPUT, field: ['input', field], message: `${field} must be 1 to 32 letters or digits` });
      }
    }
    return errors;
  }

  /**
   * consult: asks Yuansfer for the page where the payer authorizes, and stores the authorization as PENDING.
   * Without a reference one is generated (Yuansfer requires `autoReference`).
   */
  async start(input: StartAutoDebitInput, caller: Caller): Promise<StartAutoDebitResult> {
    const invalid = this.validateStart(input);
    if (invalid.length > 0) return { autoDebitId: null, authUrl: null, userErrors: invalid };
    const client = this.yuansfer();
    const refuse = (error: UserError): StartAutoDebitResult => ({ autoDebitId: null, authUrl: null, userErrors: [error] });
    return this.idempotency.run(caller, input.idempotencyKey, 'startAutoDebit', { ...input }, async () => {
      const merchantNo = input.merchantNo ?? client.merchantNo;
      const storeNo = input.storeNo ?? client.storeNo;
      const autoReference = input.reference ?? `ad_${randomUUID().replace(/-/g, '')}`;
      let consulted: ConsultResult;
      try {
        consulted = await client.consult({
          merchantNo,
          storeNo,
          vendor: input.vendor.toLowerCase(),
          terminal: input.terminal,
          autoReference,
          autoRedirectUrl: input.redirectUrl,
          autoIpnUrl: this.options.ipnUrl(),
          note: input.note,
          osType: input.osType,
          osVersion: input.osVersion,
        });
      } catch (error) {
        if (error instanceof ProviderBusinessError) {
          return refuse({ code: UserErrorCode.PROVIDER_REJECTED, field: ['input'], message: `Yuansfer refused to start the authorization: ${error.message}` });
        }
        throw error;
      }
      const { autoDebit } = await this.recorder.record({
        autoDebitNo: consulted.autoDebitNo,
        status: 'PENDING',
        source: 'MUTATION',
        merchantNo,
        storeNo,
        autoReference: consulted.autoReference ?? autoReference,
        vendor: consulted.vendor ?? input.vendor.toLowerCase(),
        occurredAt: new Date(),
        data: { authUrl: consulted.authUrl, terminal: input.terminal, note: input.note ?? null },
        tenant: caller.tenant,
        actor: caller.sub,
      });
      return { autoDebitId: autoDebit.id, authUrl: consulted.authUrl, userErrors: [] };
    }, refuse);
  }

  /**
   * revoke (seed 004). merchantNo and storeNo default to the stored authorization's, then to the configuration's.
   * An authorization the store never saw is still revoked at Yuansfer: other systems start authorizations too.
   */
  async revoke(input: RevokeAutoDebitInput, caller: Caller): Promise<RevokeAutoDebitResult> {
    const invalid = this.validateMerchant(input);
    if (!AUTO_DEBIT_NO.test(input.autoDebitNo)) {
      invalid.unshift({ code: UserErrorCode.INVALID_INPUT, field: ['input', 'autoDebitNo'], message: 'autoDebitNo must be 1 to 64 letters, digits, "_" or "-"' });
    }
    if (invalid.length > 0) return { autoDebitId: null, userErrors: invalid };
    const client = this.yuansfer();
    const id = autoDebitId(input.autoDebitNo);
    const field = ['input', 'autoDebitNo'];
    const refuse = (error: UserError): RevokeAutoDebitResult => ({ autoDebitId: null, userErrors: [error] });
    return this.idempotency.run(caller, input.idempotencyKey, 'revokeAutoDebit', { ...input }, async () => {
      await assertActsOn(this.store, caller, 'autodebit', id, (await this.store.autoDebits.get(id))?.tenant);
      const current = await this.store.autoDebits.get(id);
      const alreadyRevoked: UserError = {
        code: AutoDebitErrorCode.AUTO_DEBIT_ALREADY_REVOKED,
        field,
        message: `the authorization ${input.autoDebitNo} is already revoked`,
      };
      if (current?.status === 'REVOKED') return { autoDebitId: id, userErrors: [alreadyRevoked] };
      const ref = {
        autoDebitNo: input.autoDebitNo,
        merchantNo: input.merchantNo ?? current?.merchantNo ?? client.merchantNo,
        storeNo: input.storeNo ?? current?.storeNo ?? client.storeNo,
      };
      try {
        const revoked = await client.revoke(ref);
        await this.recorder.record({
          ...ref,
          status: 'REVOKED',
          source: 'MUTATION',
          providerStatus: RET_CODES.SUCCESS,
          autoReference: revoked.autoReference,
          vendor: revoked.vendor,
          occurredAt: new Date(),
          tenant: caller.tenant,
          actor: caller.sub,
        });
        return { autoDebitId: id, userErrors: [] };
      } catch (error) {
        if (error instanceof ProviderNotFoundError) {
          return {
            autoDebitId: current ? id : null,
            userErrors: [{ code: AutoDebitErrorCode.AUTO_DEBIT_NOT_FOUND, field, message: `Yuansfer knows no authorization ${input.autoDebitNo} for merchant ${ref.merchantNo}` }],
          };
        }
        if (error instanceof ProviderBusinessError && error.code === RET_CODES.STATUS_ERROR) {
          // Yuansfer refuses a revoked authorization with a status error: the store missed the revocation (an IPN
          // lost, or the payer revoked in their wallet), so it learns it now.
          await this.recorder.record({ ...ref, status: 'REVOKED', source: 'SYNC', providerStatus: RET_CODES.STATUS_ERROR, tenant: caller.tenant });
          return { autoDebitId: id, userErrors: [alreadyRevoked] };
        }
        if (error instanceof ProviderBusinessError) {
          return {
            autoDebitId: current ? id : null,
            userErrors: [{ code: UserErrorCode.PROVIDER_REJECTED, field: error.code === RET_CODES.PARAMETERS_MISMATCH ? ['input', 'storeNo'] : field, message: `Yuansfer refused to revoke: ${error.message}` }],
          };
        }
        throw error;
      }
    }, refuse);
  }

  /**
   * Takes in a verified authorization IPN. An "authorized" notice makes the authorization ACTIVE once Yuansfer has
   * issued its token, applied for here as the provider requires (docs/providers/yuansfer.md lifecycle); a failure to apply
   * throws, so the receiver answers no `success` and Yuansfer resends. A notice about an authorization already
   * ACTIVE or REVOKED applies for nothing: it is a resend, or too late to matter.
   */
  async acceptNotice(notice: AutoDebitNotice): Promise<AutoDebitRecordResult> {
    const client = this.yuansfer();
    const current = await this.store.autoDebits.get(autoDebitId(notice.autoDebitNo));
    const status = NOTICE_STATUS[notice.kind];
    const ref = {
      autoDebitNo: notice.autoDebitNo,
      merchantNo: current?.merchantNo ?? client.merchantNo,
      storeNo: current?.storeNo ?? client.storeNo,
    };
    const data: Record<string, unknown> = {};
    if (notice.note !== null) data.note = notice.note;
    if (status === 'ACTIVE' && (!current || current.status === 'PENDING')) {
      const token = await client.applyToken(ref, 'AUTHORIZATION_CODE');
      data.accessTokenExpiryTime = token.accessTokenExpiryTime?.toISOString() ?? null;
      data.refreshTokenExpiryTime = token.refreshTokenExpiryTime?.toISOString() ?? null;
    }
    const result = await this.recorder.record({
      ...ref,
      status,
      source: 'CALLBACK',
      providerStatus: notice.kind,
      autoReference: notice.autoReference,
      vendor: notice.vendor,
      occurredAt: notice.time,
      data: Object.keys(data).length > 0 ? data : null,
      receipt: notice.receipt,
    });
    this.logger.info(
      { provider: YUANSFER, autoDebitNo: notice.autoDebitNo, kind: notice.kind, duplicate: result.duplicate, event: result.event?.id },
      'Yuansfer IPN stored',
    );
    return result;
  }
}
