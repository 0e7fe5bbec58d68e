import { GraphQLError } from 'graphql';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { EVENT_SOURCES, SIGN_FLOW_STATUSES, SIGN_PROVIDERS } from '../domain/model';

const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const SignProviderEnum = enumOf(SIGN_PROVIDERS);
export const SignFlowStatusEnum = enumOf(SIGN_FLOW_STATUSES);
export const EventSourceEnum = enumOf(EVENT_SOURCES);

registerEnumType(SignProviderEnum, { name: 'SignProvider', description: 'The e-signature providers this API fronts.' });
registerEnumType(SignFlowStatusEnum, { name: 'SignFlowStatus', description: "A signing flow's status, mapped from each provider's own codes." });
registerEnumType(EventSourceEnum, {
  name: 'EventSource',
  description: 'How the API learned a status: a provider callback, one of its own mutations, or a read from the provider.',
});

@ObjectType({ description: 'A business refusal or an input problem. `code` is stable; switch on it, not on `message`.' })
export class UserError {
  @Field({ description: 'Stable upper-snake code, e.g. FLOW_NOT_REVOCABLE.' })
  code!: string;

  @Field({ description: 'What went wrong, for a person.' })
  message!: string;

  @Field(() => [String], { nullable: true, description: 'Path of the input field at fault, e.g. ["input", "reason"].' })
  field?: string[];
}

@ObjectType({ description: 'Relay cursor-connection page information.' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

/** Relay cursors are opaque to clients; they wrap our internal position with a prefix so kinds cannot be mixed. */
export function encodeCursor(kind: string, position: number): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string | null | undefined, argument = 'after'): number | undefined {
  if (cursor === null || cursor === undefined || cursor === '') return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const [prefix, position] = text.split(':');
  if (prefix !== kind || !/^\d+$/.test(position ?? '')) {
    throw new GraphQLError(`${argument} is not a cursor returned by this field`, { extensions: { code: 'BAD_USER_INPUT', argumentName: argument } });
  }
  return Number(position);
}

/** `first` bounds for connections: a client cannot ask for an unbounded page. */
export function pageSize(first: number | null | undefined, max = 100): number {
  const n = first ?? 20;
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new GraphQLError(`first must be between 0 and ${max}`, { extensions: { code: 'BAD_USER_INPUT', argumentName: 'first' } });
  }
  return n;
}

/** A subscription cursor is an event id (`SignFlowEvent.id`). */
export function parseEventCursor(after: string | null | undefined): number | undefined {
  if (after === null || after === undefined || after === '') return undefined;
  if (!/^\d{1,15}$/.test(after)) {
    throw new GraphQLError('after must be the id of an event received earlier', { extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
  }
  return Number(after);
}
