import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { AUTO_DEBIT_STATUSES, type AutoDebitStatus } from '../../domain/autodebit';
import type { EventSource } from '../../domain/model';
import { YUANSFER_OS_TYPES, YUANSFER_TERMINALS, type YuansferOsType, type YuansferTerminal } from '../../providers/yuansfer/mapping';
import { EventSourceEnum, UserError } from '../common';
import { RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';

const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const AutoDebitStatusEnum = enumOf(AUTO_DEBIT_STATUSES);
registerEnumType(AutoDebitStatusEnum, {
  name: 'AutoDebitStatus',
  description: 'PENDING: the payer has not authorized yet. ACTIVE: authorized, token issued. REVOKED: no more debits.',
});

export const AutoDebitTerminalEnum = enumOf(YUANSFER_TERMINALS);
registerEnumType(AutoDebitTerminalEnum, { name: 'AutoDebitTerminal', description: "Where the payer authorizes: Yuansfer's `terminal`." });

export const AutoDebitOsTypeEnum = enumOf(YUANSFER_OS_TYPES);
registerEnumType(AutoDebitOsTypeEnum, { name: 'AutoDebitOsType', description: "The payer's operating system, for WAP and APP terminals." });

@Directive('@key(fields: "id")')
@RequiresScopes(SCOPES.AUTODEBITS_READ)
@ObjectType({ description: 'A Yuansfer auto-debit authorization: the payer lets the merchant debit their wallet. id = YUANSFER:<autoDebitNo>' })
export class AutoDebit {
  @Field(() => ID)
  id!: string;

  @Field({ description: "Yuansfer's id of the authorization." })
  autoDebitNo!: string;

  @Field(() => String, { nullable: true, description: "The merchant's own reference of the authorization." })
  autoReference!: string | null;

  @Field(() => String, { nullable: true, description: 'The payment channel as the provider names it: alipay, gcash, …' })
  vendor!: string | null;

  @Field()
  merchantNo!: string;

  @Field()
  storeNo!: string;

  @Field(() => AutoDebitStatusEnum)
  status!: AutoDebitStatus;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType({ description: 'One status change of an authorization.' })
export class AutoDebitEvent {
  @Field(() => ID, { description: 'Also the resume cursor: strictly increasing in delivery order. Pass it as `after` to autoDebitEvents.' })
  id!: string;

  /** Resolved by the field resolver. */
  autoDebitId!: string;

  @Field(() => AutoDebitStatusEnum)
  status!: AutoDebitStatus;

  @Field(() => EventSourceEnum)
  source!: EventSource;

  @Field(() => Date, { nullable: true, description: "When the provider says it happened (an IPN's time)." })
  occurredAt!: Date | null;

  @Field(() => Date)
  receivedAt!: Date;

  @Field(() => String, { nullable: true, description: 'The `sub` of the caller whose mutation caused this event; null for IPNs.' })
  actor!: string | null;
}

@InputType()
export class StartAutoDebitInput {
  @Field({ description: 'The payment channel: alipay, alipay_cn, truemoney, alipay_hk, tng, gcash, dana, kakaopay, bkash or easypaisa.' })
  vendor!: string;

  @Field(() => AutoDebitTerminalEnum)
  terminal!: YuansferTerminal;

  @Field({ description: "Where the payer's browser returns once they have authorized (Yuansfer's autoRedirectUrl)." })
  redirectUrl!: string;

  @Field(() => String, { nullable: true, description: 'Your reference of the authorization (autoReference); generated when omitted.' })
  reference?: string | null;

  @Field(() => String, { nullable: true, description: 'A note Yuansfer sends back in the IPN.' })
  note?: string | null;

  @Field(() => AutoDebitOsTypeEnum, { nullable: true, description: 'Required when the terminal is WAP or APP.' })
  osType?: YuansferOsType | null;

  @Field(() => String, { nullable: true, description: 'Required when the terminal is WAP or APP.' })
  osVersion?: string | null;

  @Field(() => String, { nullable: true, description: 'Default: YUANSFER_MERCHANT_NO.' })
  merchantNo?: string | null;

  @Field(() => String, { nullable: true, description: 'Default: YUANSFER_STORE_NO.' })
  storeNo?: string | null;

  @Field(() => String, { nullable: true, description: 'The same key and input replays the first result instead of starting another authorization.' })
  idempotencyKey?: string | null;
}

@ObjectType()
export class StartAutoDebitPayload {
  @Field(() => AutoDebit, { nullable: true, description: 'The new authorization, PENDING until the payer authorizes.' })
  autoDebit!: AutoDebit | null;

  @Field(() => String, { nullable: true, description: 'Send the payer here to authorize.' })
  authUrl!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@InputType()
export class RevokeAutoDebitInput {
  @Field()
  autoDebitNo!: string;

  @Field(() => String, { nullable: true, description: "Default: the stored authorization's, else YUANSFER_MERCHANT_NO." })
  merchantNo?: string | null;

  @Field(() => String, { nullable: true, description: "Default: the stored authorization's, else YUANSFER_STORE_NO." })
  storeNo?: string | null;

  @Field(() => String, { nullable: true, description: 'The same key and input replays the first result instead of revoking again.' })
  idempotencyKey?: string | null;
}

@ObjectType()
export class RevokeAutoDebitPayload {
  @Field(() => AutoDebit, { nullable: true })
  autoDebit!: AutoDebit | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
