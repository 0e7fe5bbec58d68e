import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import {
  RESCISSION_REASONS,
  RESCISSION_STATUSES,
  type NoticeType,
  type PersonSealStyle,
  type RescissionChargeMode,
  type RescissionReason,
  type RescissionStatus,
  type SignClientType,
} from '../../domain/rescission';
import { UserError } from '../common';
import { RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';

const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const RescissionReasonEnum = enumOf(RESCISSION_REASONS);
registerEnumType(RescissionReasonEnum, {
  name: 'RescissionReason',
  description: 'Why the contract is rescinded; e签宝\'s rescindReason "1" to "5" in this order.',
});

export const RescissionStatusEnum = enumOf(RESCISSION_STATUSES);
registerEnumType(RescissionStatusEnum, {
  name: 'RescissionStatus',
  description: 'INITIATED: the rescission agreement is out for signing. RESCINDED: it was signed; the files lost their effect. FAILED: it was revoked, rejected or expired unsigned.',
});

export const RescissionChargeModeEnum = enumOf(['INTEGRATOR', 'INITIATOR_ORGANIZATION'] as const satisfies readonly RescissionChargeMode[]);
registerEnumType(RescissionChargeModeEnum, {
  name: 'RescissionChargeMode',
  description: "e签宝's chargeMode: 0 the integrating application's company pays (default), 1 the initiating organisation pays (needs its authorisation).",
});

export const RescissionOrderTypeEnum = enumOf(['DISTRIBUTION'] as const);
registerEnumType(RescissionOrderTypeEnum, {
  name: 'RescissionOrderType',
  description: "e签宝's orderType; left out, the ordinary package is used. DISTRIBUTION needs a registered ecosystem partner.",
});

export const RescissionSignClientTypeEnum = enumOf(['WEB', 'ALIPAY'] as const satisfies readonly SignClientType[]);
registerEnumType(RescissionSignClientTypeEnum, { name: 'RescissionSignClientType', description: 'Where the agreement may be signed: 1 web (H5/PC), 2 Alipay.' });

export const RescissionSealStyleEnum = enumOf(['HANDWRITING', 'NAME_SEAL', 'HANDWRITING_AI_CHECK'] as const satisfies readonly PersonSealStyle[]);
registerEnumType(RescissionSealStyleEnum, { name: 'RescissionSealStyle', description: "A person's seal styles offered: 0 handwriting, 1 name seal, 2 handwriting with AI check." });

export const RescissionNoticeTypeEnum = enumOf(['SMS', 'EMAIL'] as const satisfies readonly NoticeType[]);
registerEnumType(RescissionNoticeTypeEnum, { name: 'RescissionNoticeType', description: 'How the parties are told about the agreement: 1 SMS, 2 e-mail.' });

@Directive('@key(fields: "id")')
@RequiresScopes(SCOPES.FLOWS_READ)
@ObjectType({ description: "A rescission (e签宝 合同解约) of a completed flow's files. id = ESIGN:<rescission agreement's flow id>" })
export class Rescission {
  @Field(() => ID)
  id!: string;

  @Field({ description: "The rescission agreement's flow id at e签宝: its parties sign it to rescind the files." })
  rescissionFlowId!: string;

  @Field(() => [String])
  fileIds!: string[];

  @Field(() => RescissionReasonEnum)
  reason!: RescissionReason;

  @Field(() => String, { nullable: true })
  notes!: string | null;

  @Field(() => RescissionStatusEnum)
  status!: RescissionStatus;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@InputType()
export class PersonInitiatorInput {
  @Field({ description: "The person's e签宝 account id (psnId): a signer or the initiator of the original flow." })
  psnId!: string;
}

@InputType()
export class OrganizationInitiatorInput {
  @Field({ description: "The organisation's e签宝 account id (orgId): a signer of the original flow." })
  orgId!: string;

  @Field({ description: 'The psnId of the person acting for the organisation.' })
  transactorPsnId!: string;
}

@InputType({ description: 'Exactly one of person or organization.' })
export class RescissionInitiatorInput {
  @Field(() => PersonInitiatorInput, { nullable: true })
  person?: PersonInitiatorInput | null;

  @Field(() => OrganizationInitiatorInput, { nullable: true })
  organization?: OrganizationInitiatorInput | null;
}

@InputType()
export class RescissionChargeConfigInput {
  @Field(() => RescissionChargeModeEnum, { nullable: true })
  mode?: RescissionChargeMode | null;

  @Field(() => RescissionOrderTypeEnum, { nullable: true })
  orderType?: 'DISTRIBUTION' | null;
}

@InputType()
export class RescissionSignConfigInput {
  @Field(() => [RescissionSignClientTypeEnum], { nullable: true, description: 'Default WEB and ALIPAY.' })
  availableSignClientTypes?: SignClientType[] | null;

  @Field(() => [RescissionSealStyleEnum], { nullable: true, description: 'Default HANDWRITING and NAME_SEAL.' })
  psnSealStyles?: PersonSealStyle[] | null;
}

@InputType()
export class RescissionNoticeConfigInput {
  @Field(() => [RescissionNoticeTypeEnum], { nullable: true, description: 'Empty (the default): no notice is sent.' })
  noticeTypes?: NoticeType[] | null;

  @Field(() => Boolean, { nullable: true, description: "Notify the organisations' seal approvers; left out, noticeTypes decides." })
  examineNotice?: boolean | null;
}

@InputType({ description: "The rescission agreement flow's configuration (e签宝's signFlowConfig; notifyUrl is a field of the input itself)." })
export class RescissionFlowConfigInput {
  @Field(() => Date, { nullable: true, description: 'When the agreement expires unsigned (signFlowExpireTime).' })
  expireTime?: Date | null;

  @Field(() => RescissionChargeConfigInput, { nullable: true })
  charge?: RescissionChargeConfigInput | null;

  @Field(() => RescissionSignConfigInput, { nullable: true })
  sign?: RescissionSignConfigInput | null;

  @Field(() => RescissionNoticeConfigInput, { nullable: true })
  notice?: RescissionNoticeConfigInput | null;
}

@InputType({ description: 'An organisation that signs the agreement automatically. Exactly one of orgId or orgName.' })
export class RescissionAutoSignOrgInput {
  @Field(() => String, { nullable: true })
  orgId?: string | null;

  @Field(() => String, { nullable: true })
  orgName?: string | null;

  @Field({ description: "The organisation's seal (not the legal representative's)." })
  sealId!: string;
}

@InputType()
export class RescissionTransactorInfoInput {
  @Field(() => String, { nullable: true, description: 'Required when the organisation is given by orgId.' })
  psnId?: string | null;

  @Field(() => String, { nullable: true, description: 'Mobile or e-mail; required when the organisation is given by orgName.' })
  psnAccount?: string | null;

  @Field(() => String, { nullable: true })
  psnName?: string | null;
}

@InputType({ description: 'Who signs the agreement for an organisation. Exactly one of orgId or orgName.' })
export class RescissionOrgSignerTransactorInput {
  @Field(() => String, { nullable: true })
  orgId?: string | null;

  @Field(() => String, { nullable: true })
  orgName?: string | null;

  @Field(() => RescissionTransactorInfoInput)
  transactorInfo!: RescissionTransactorInfoInput;
}

@InputType()
export class InitiateRescissionInput {
  @Field(() => ID, { description: 'An ESIGN flow that is COMPLETED.' })
  signFlowId!: string;

  @Field(() => [String], { description: '1 to 10 file ids of the flow.' })
  fileIds!: string[];

  @Field(() => RescissionReasonEnum)
  reason!: RescissionReason;

  @Field(() => String, { nullable: true, description: 'At most 200 characters.' })
  notes?: string | null;

  @Field(() => RescissionInitiatorInput, { description: 'Exactly one of person or organization.' })
  initiator!: RescissionInitiatorInput;

  @Field(() => String, {
    nullable: true,
    description: "Where e签宝 sends this rescission's callbacks. Left out, this API's /callbacks/esign, which keeps the rescission's status current.",
  })
  notifyUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'The same key and input replays the first result instead of initiating again.' })
  idempotencyKey?: string | null;

  @Field(() => RescissionFlowConfigInput, { nullable: true })
  signFlowConfig?: RescissionFlowConfigInput | null;

  @Field(() => [RescissionAutoSignOrgInput], { nullable: true, description: 'Organisations that sign the agreement automatically.' })
  autoSignOrg?: RescissionAutoSignOrgInput[] | null;

  @Field(() => [RescissionOrgSignerTransactorInput], {
    nullable: true,
    description: 'Who signs for an organisation; an organisation is in this list or in autoSignOrg, not both.',
  })
  orgSignerTransactor?: RescissionOrgSignerTransactorInput[] | null;
}

@ObjectType()
export class InitiateRescissionPayload {
  @Field(() => Rescission, { nullable: true })
  rescission!: Rescission | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
