/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** PENDING: the payer has not authorized yet. ACTIVE: authorized, token issued. REVOKED: no more debits. */
export type AutoDebitStatus =
  | 'ACTIVE'
  | 'PENDING'
  | 'REVOKED';

/** Tencent's CancelMessageFormat 0..3: how the reason is shown on the cancelled contract's cover page. */
export type CancelMessageFormat =
  | 'DEFAULT'
  | 'INITIATOR_ONLY'
  | 'ORGANIZATION'
  | 'ORGANIZATION_AND_OPERATOR';

export type CreateContractInput = {
  /** An AutoDebit id, e.g. YUANSFER:2023081510000001. */
  autoDebitId?: string | number | null | undefined;
  /** A SignFlow id, e.g. ETC:c64665aa4f1c45679e65b6fae33cd773. */
  signFlowId?: string | number | null | undefined;
  title: string;
};

/** How the API learned a status: a provider callback, one of its own mutations, or a read from the provider. */
export type EventSource =
  | 'CALLBACK'
  | 'MUTATION'
  | 'SYNC';

export type RevokeSignFlowInput = {
  /** Tencent only: how the reason is shown on the contract. */
  cancelMessageFormat?: CancelMessageFormat | null | undefined;
  /** Required when the flow is ETC's: the ETC user number (etc_member_no). */
  etcMemberNo?: string | null | undefined;
  /** The flow to revoke: <SignProvider>:<provider flow id>. */
  id: string | number;
  /** The same key and input replays the first result instead of revoking again. */
  idempotencyKey?: string | null | undefined;
  /** Why. ETC: at most 64 characters, default "撤销". */
  reason?: string | null | undefined;
};

/** A signing flow's status, mapped from each provider's own codes. */
export type SignFlowStatus =
  | 'COMPLETED'
  | 'DRAFT'
  | 'EXPIRED'
  | 'INVALIDATED'
  | 'REJECTED'
  | 'RESCINDED'
  | 'REVOKED'
  | 'SIGNING'
  | 'UNKNOWN';

/** The e-signature providers this API fronts. */
export type SignProvider =
  | 'ESIGN'
  | 'ETC'
  | 'TENCENT_ESS';

export type CreateContractMutationVariables = Exact<{
  input: CreateContractInput;
}>;


export type CreateContractMutation = { createContract: { id: string, title: string, signFlow: { id: string, status: SignFlowStatus } | null } };

export type ContractWithSignFlowQueryVariables = Exact<{
  id: string | number;
}>;


export type ContractWithSignFlowQuery = { contract: { id: string, title: string, autoDebit: { id: string, autoDebitNo: string, status: AutoDebitStatus } | null, signFlow: { id: string, provider: SignProvider, status: SignFlowStatus, providerStatus: string | null, events: { edges: Array<{ node: { status: SignFlowStatus, source: EventSource } }> } } | null } | null };

export type SignFlowWithContractQueryVariables = Exact<{
  id: string | number;
}>;


export type SignFlowWithContractQuery = { signFlow: { id: string, status: SignFlowStatus, contract: { id: string, title: string } | null } | null };

export type RevokeSignFlowWithContractMutationVariables = Exact<{
  input: RevokeSignFlowInput;
}>;


export type RevokeSignFlowWithContractMutation = { revokeSignFlow: { signFlow: { id: string, status: SignFlowStatus, providerStatus: string | null, contract: { title: string } | null } | null, userErrors: Array<{ code: string, field: Array<string> | null, message: string }> } };

export type SignFlowEventsWithContractSubscriptionVariables = Exact<{
  ids?: Array<string | number> | string | number | null | undefined;
  after?: string | null | undefined;
}>;


export type SignFlowEventsWithContractSubscription = { signFlowEvents: { id: string, status: SignFlowStatus, providerStatus: string | null, source: EventSource, flow: { id: string, status: SignFlowStatus, contract: { id: string, title: string } | null } } };


export const CreateContractDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateContract"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateContractInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createContract"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"signFlow"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]}}]} as unknown as DocumentNode<CreateContractMutation, CreateContractMutationVariables>;
export const ContractWithSignFlowDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ContractWithSignFlow"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"contract"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"autoDebit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"autoDebitNo"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}},{"kind":"Field","name":{"kind":"Name","value":"signFlow"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"providerStatus"}},{"kind":"Field","name":{"kind":"Name","value":"events"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"10"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<ContractWithSignFlowQuery, ContractWithSignFlowQueryVariables>;
export const SignFlowWithContractDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SignFlowWithContract"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"signFlow"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"contract"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}}]}}]}}]} as unknown as DocumentNode<SignFlowWithContractQuery, SignFlowWithContractQueryVariables>;
export const RevokeSignFlowWithContractDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeSignFlowWithContract"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RevokeSignFlowInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeSignFlow"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"signFlow"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"providerStatus"}},{"kind":"Field","name":{"kind":"Name","value":"contract"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"title"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<RevokeSignFlowWithContractMutation, RevokeSignFlowWithContractMutationVariables>;
export const SignFlowEventsWithContractDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"SignFlowEventsWithContract"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"ids"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"signFlowEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"ids"},"value":{"kind":"Variable","name":{"kind":"Name","value":"ids"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"providerStatus"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"flow"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"contract"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}}]}}]}}]}}]} as unknown as DocumentNode<SignFlowEventsWithContractSubscription, SignFlowEventsWithContractSubscriptionVariables>;