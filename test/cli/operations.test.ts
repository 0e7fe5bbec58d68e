import { parse, validate } from 'graphql';
import * as operations from '../../src/cli/operations';
import { buildFederatedSchema } from '../../src/graphql/schema';

describe('the CLI operations', () => {
  it('are valid against the server schema', async () => {
    const schema = await buildFederatedSchema();
    const documents = Object.entries(operations as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    expect(documents.map(([name]) => name).sort()).toEqual(['CANCEL_SIGN_FLOWS', 'CANCEL_TASK', 'CANCEL_TASK_PROGRESS', 'SIGN_FLOW', 'SIGN_FLOW_EVENTS']);
    for (const [name, document] of documents) {
      expect([name, validate(schema, parse(document)).map((e) => e.message)]).toEqual([name, []]);
    }
  });
});
