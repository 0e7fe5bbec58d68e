import { GraphQLError } from 'graphql';
import { AUTO_DEBIT_PROVIDER, parseAutoDebitId } from '../domain/autodebit';
import { parseFlowId, SIGN_PROVIDERS } from '../domain/model';

/**
 * Id arguments are checked before anything is looked up: an id of the wrong form is a mistake of the caller (a
 * lower-case prefix, a provider this API does not serve, a bare provider id), and answering `null` as if the record
 * were absent hides it. Each kind of id has one form, given in the error so the caller can fix the request.
 */
export const ID_FORMS = {
  SignFlow: { example: 'ETC:c64665aa4f1c45679e65b6fae33cd773', form: `<SignProvider>:<provider's flow id> with SignProvider one of ${SIGN_PROVIDERS.join(', ')}` },
  Rescission: { example: 'ESIGN:0c3b0e5c9a5b4d0f8f0e6a1d2c3b4a59', form: "ESIGN:<the rescission agreement's flow id>" },
  AutoDebit: { example: `${AUTO_DEBIT_PROVIDER}:298222562856331071`, form: `${AUTO_DEBIT_PROVIDER}:<autoDebitNo>` },
  CancelTask: { example: 'cancel_5f0c6f2e8a9b4c1d9e7f3a2b1c0d4e5f', form: 'cancel_<32 hexadecimal digits>, as cancelSignFlows answers it' },
} as const;

export type IdKind = keyof typeof ID_FORMS;

const CANCEL_TASK_ID = /^cancel_[A-Za-z0-9]{1,64}$/;

const VALID: Record<IdKind, (id: string) => boolean> = {
  SignFlow: (id) => parseFlowId(id) !== undefined,
  Rescission: (id) => parseFlowId(id)?.provider === 'ESIGN',
  AutoDebit: (id) => parseAutoDebitId(id) !== undefined,
  CancelTask: (id) => CANCEL_TASK_ID.test(id),
};

/** The error of a malformed id: code INVALID_ID, the argument it came in, the form expected and an example. */
export function invalidIdError(kind: IdKind, argument: string, id: string): GraphQLError {
  const { form, example } = ID_FORMS[kind];
  const shown = id.length > 80 ? `${JSON.stringify(id.slice(0, 80))}…` : JSON.stringify(id);
  return new GraphQLError(`${argument} is not a valid ${kind} id: expected ${form}, e.g. ${example}; got ${shown}`, {
    extensions: { code: 'INVALID_ID', argument, expected: form },
  });
}

/** Throws {@link invalidIdError} unless `id` has the form of a `kind` id. */
export function requireId(kind: IdKind, argument: string, id: string): string {
  if (!VALID[kind](id)) throw invalidIdError(kind, argument, id);
  return id;
}

/** {@link requireId} for each id of a list argument (`ids[3]` names the culprit); null and undefined pass. */
export function requireIds(kind: IdKind, argument: string, ids: readonly string[] | null | undefined): readonly string[] | null | undefined {
  ids?.forEach((id, i) => requireId(kind, `${argument}[${i}]`, id));
  return ids;
}
