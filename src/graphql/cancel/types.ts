import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CANCEL_TASK_STATES, type CancelTaskState } from '../../store/cancel-tasks';
import type { Flow } from '../../store/types';
import { UserError } from '../common';
import { CancelMessageFormatEnum, SignFlow, type CancelMessageFormat } from '../signflow/types';
import { RequiresScopes } from '../../auth/access';
import { SCOPES } from '../../auth/caller';

export const CancelTaskStateEnum = Object.fromEntries(CANCEL_TASK_STATES.map((s) => [s, s])) as { [K in CancelTaskState]: K };
registerEnumType(CancelTaskStateEnum, {
  name: 'CancelTaskState',
  description:
    'PROCESSING while some flow has no outcome yet; then SUCCEEDED (all cancelled), PARTIAL, FAILED (none cancelled), or TIMEOUT when some outcome never came.',
});

@Directive('@key(fields: "id")')
@RequiresScopes(SCOPES.FLOWS_READ)
@ObjectType({ description: 'One cancelSignFlows request and its progress, persisted: it outlives the request that started it.' })
export class CancelTask {
  @Field(() => ID)
  id!: string;

  @Field(() => CancelTaskStateEnum)
  state!: CancelTaskState;

  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  succeeded!: number;

  @Field(() => Int)
  failed!: number;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType({ description: 'The outcome for one requested flow, at its position in the request.' })
export class CancelItem {
  @Field(() => SignFlow, { description: 'The flow as this API knows it; status UNKNOWN when it has never been read.' })
  flow!: Flow;

  @Field(() => Boolean, { nullable: true, description: 'true cancelled, false refused; null while pending, and when it timed out without an outcome.' })
  ok!: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Why it failed: FLOW_NOT_REVOCABLE, FLOW_NOT_FOUND, DUPLICATE_ID, ETC_MEMBER_NO_REQUIRED, PROVIDER_NOT_CONFIGURED, TIMEOUT, or a provider failure code (PROVIDER_TIMEOUT, …).',
  })
  code!: string | null;

  @Field(() => String, { nullable: true, description: "The provider's message or ours, for a person." })
  reason!: string | null;
}

@InputType()
export class CancelSignFlowsInput {
  @Field(() => [ID], { description: 'Any number of flows (up to 20,000 per request), any mix of providers; chunked per provider limits.' })
  ids!: string[];

  @Field(() => String, {
    nullable: true,
    description: 'Why. Tencent: at most 200 Chinese characters, letters, digits or underscores (Tencent\'s default reason when left out). ETC: at most 64 characters.',
  })
  reason?: string | null;

  @Field(() => CancelMessageFormatEnum, { nullable: true, description: 'Tencent only: how the reason is shown on the contract.' })
  cancelMessageFormat?: CancelMessageFormat | null;

  @Field(() => String, { nullable: true, description: 'Required for ETC flows: the ETC user number (etc_member_no). Without it each ETC item fails ETC_MEMBER_NO_REQUIRED.' })
  etcMemberNo?: string | null;

  @Field(() => String, { nullable: true, description: 'The same key and input returns the first task instead of starting another.' })
  idempotencyKey?: string | null;
}

@ObjectType()
export class CancelSignFlowsPayload {
  @Field(() => CancelTask, { nullable: true, description: 'Answered at once, usually PROCESSING; follow it with cancelTaskProgress or cancelTask.' })
  task!: CancelTask | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
