import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import type { EventSource, SignFlowStatus, SignProvider } from '../../domain/model';
import { EventSourceEnum, PageInfo, SignFlowStatusEnum, SignProviderEnum, UserError } from '../common';
import { RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';

@Directive('@key(fields: "id")')
@Directive('@key(fields: "provider providerFlowId")')
@RequiresScopes(SCOPES.FLOWS_READ)
@ObjectType({ description: 'A contract signing flow at one provider. id = <SignProvider>:<provider\'s flow id>, e.g. ETC:c64665aa4f1c…' })
export class SignFlow {
  @Field(() => ID)
  id!: string;

  @Field(() => SignProviderEnum)
  provider!: SignProvider;

  @Field({ description: "The provider's own flow id." })
  providerFlowId!: string;

  @Field(() => SignFlowStatusEnum)
  status!: SignFlowStatus;

  @Field(() => String, { nullable: true, description: "The provider's own status code, untranslated." })
  providerStatus!: string | null;

  @Field(() => String, { nullable: true })
  fileUrl!: string | null;

  @Field(() => Date, { nullable: true })
  endedAt!: Date | null;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType({ description: 'One status change of a flow.' })
export class SignFlowEvent {
  @Field(() => ID, { description: 'Also the resume cursor: strictly increasing in delivery order. Pass it as `after` to signFlowEvents.' })
  id!: string;

  /** Resolved by the field resolver from `flowId`. */
  flowId!: string;

  @Field(() => SignFlowStatusEnum)
  status!: SignFlowStatus;

  @Field(() => String, { nullable: true })
  providerStatus!: string | null;

  @Field(() => EventSourceEnum)
  source!: EventSource;

  @Field(() => Date, { nullable: true, description: 'When the provider says it happened.' })
  occurredAt!: Date | null;

  @Field(() => Date)
  receivedAt!: Date;

  @Field(() => String, { nullable: true, description: 'The `sub` of the caller whose mutation caused this event; null for callbacks and reads.' })
  actor!: string | null;
}

@ObjectType()
export class SignFlowEdge {
  @Field()
  cursor!: string;

  @Field(() => SignFlow)
  node!: SignFlow;
}

@ObjectType()
export class SignFlowConnection {
  @Field(() => [SignFlowEdge])
  edges!: SignFlowEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType()
export class SignFlowEventEdge {
  @Field()
  cursor!: string;

  @Field(() => SignFlowEvent)
  node!: SignFlowEvent;
}

@ObjectType()
export class SignFlowEventConnection {
  @Field(() => [SignFlowEventEdge])
  edges!: SignFlowEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

export const CancelMessageFormatEnum = {
  DEFAULT: 'DEFAULT',
  INITIATOR_ONLY: 'INITIATOR_ONLY',
  ORGANIZATION: 'ORGANIZATION',
  ORGANIZATION_AND_OPERATOR: 'ORGANIZATION_AND_OPERATOR',
} as const;
export type CancelMessageFormat = keyof typeof CancelMessageFormatEnum;
registerEnumType(CancelMessageFormatEnum, {
  name: 'CancelMessageFormat',
  description: "Tencent's CancelMessageFormat 0..3: how the reason is shown on the cancelled contract's cover page.",
});
/** Tencent's CancelMessageFormat 0..3 (seed 002). */
export const CANCEL_MESSAGE_FORMAT_CODES: Record<CancelMessageFormat, number> = {
  DEFAULT: 0,
  INITIATOR_ONLY: 1,
  ORGANIZATION: 2,
  ORGANIZATION_AND_OPERATOR: 3,
};

@InputType()
export class RevokeSignFlowInput {
  @Field(() => ID, { description: 'The flow to revoke: <SignProvider>:<provider flow id>.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'Why. ETC: at most 64 characters, default "撤销".' })
  reason?: string | null;

  @Field(() => String, { nullable: true, description: "Required when the flow is ETC's: the ETC user number (etc_member_no)." })
  etcMemberNo?: string | null;

  @Field(() => CancelMessageFormatEnum, { nullable: true, description: 'Tencent only: how the reason is shown on the contract.' })
  cancelMessageFormat?: CancelMessageFormat | null;

  @Field(() => String, { nullable: true, description: 'The same key and input replays the first result instead of revoking again.' })
  idempotencyKey?: string | null;
}

@ObjectType()
export class RevokeSignFlowPayload {
  @Field(() => SignFlow, { nullable: true })
  signFlow!: SignFlow | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
