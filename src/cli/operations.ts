/**
 * The operations the CLI sends. test/cli/operations.test.ts validates each against the server's schema, so a schema
 * change that breaks the CLI fails there rather than in an operator's terminal.
 */

export const CANCEL_SIGN_FLOWS = `mutation CliCancelSignFlows($input: CancelSignFlowsInput!) {
  cancelSignFlows(input: $input) {
    task { id state total succeeded failed }
    userErrors { code field message }
  }
}`;

export const CANCEL_TASK_PROGRESS = `subscription CliCancelTaskProgress($id: ID!) {
  cancelTaskProgress(id: $id) { id state total succeeded failed }
}`;

/** One page of a task's items (the CLI reads a 20,000-item task page by page: each page is a short operation). */
export const CANCEL_TASK = `query CliCancelTask($id: ID!, $first: Int, $offset: Int) {
  cancelTask(id: $id) { id state total succeeded failed items(first: $first, offset: $offset) { flow { id } ok code reason } }
}`;

/** Items per CANCEL_TASK page. */
export const CANCEL_TASK_PAGE = 2_000;

export const SIGN_FLOW_EVENTS = `subscription CliSignFlowEvents($after: String, $provider: SignProvider, $ids: [ID!]) {
  signFlowEvents(after: $after, provider: $provider, ids: $ids) {
    id status providerStatus source occurredAt receivedAt flow { id }
  }
}`;

export const SIGN_FLOW = `query CliSignFlow($id: ID!, $after: String) {
  signFlow(id: $id) {
    id provider providerFlowId status providerStatus fileUrl endedAt updatedAt
    events(first: 100, after: $after) {
      edges { node { id status providerStatus source occurredAt receivedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export interface TaskSummary {
  id: string;
  state: 'PROCESSING' | 'SUCCEEDED' | 'PARTIAL' | 'FAILED' | 'TIMEOUT';
  total: number;
  succeeded: number;
  failed: number;
}

export interface UserErrorShape {
  code: string;
  field: string[] | null;
  message: string;
}

export interface CancelSignFlowsData {
  cancelSignFlows: { task: TaskSummary | null; userErrors: UserErrorShape[] };
}

export interface CancelTaskData {
  cancelTask: (TaskSummary & { items: Array<{ flow: { id: string }; ok: boolean | null; code: string | null; reason: string | null }> }) | null;
}

export interface SignFlowEventShape {
  id: string;
  status: string;
  providerStatus: string | null;
  source: string;
  occurredAt: string | null;
  receivedAt: string;
  flow: { id: string };
}

export interface SignFlowData {
  signFlow: {
    id: string;
    provider: string;
    providerFlowId: string;
    status: string;
    providerStatus: string | null;
    fileUrl: string | null;
    endedAt: string | null;
    updatedAt: string;
    events: { edges: Array<{ node: Omit<SignFlowEventShape, 'flow'> }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  } | null;
}
