import { buildSchema, isObjectType, type GraphQLSchema } from 'graphql';
import { composeWithApollo, composeWithGuild, exampleSubgraphs, type SubgraphDefinition } from './compose';

/**
 * The printed SDL (schema/subgraph.graphql, kept equal to the code by `npm run schema:check`) must compose with
 * another team's subgraph under both composition libraries a platform team may use.
 */

function fieldsOf(schema: GraphQLSchema, typeName: string): string[] {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type of the API schema`);
  return Object.keys(type.getFields()).sort();
}

/** The `@join__type` keys a supergraph records for one type and subgraph. */
function joinKeys(supergraphSdl: string, typeName: string, graph: string): string[] {
  const declaration = new RegExp(`^type ${typeName}\\b[^{]*`, 'm').exec(supergraphSdl)?.[0] ?? '';
  return [...declaration.matchAll(new RegExp(`@join__type\\(graph: ${graph}, key: "([^"]+)"`, 'g'))].map((m) => m[1]).sort();
}

const composers = [
  ['@theguild/federation-composition', (s: SubgraphDefinition[]) => composeWithGuild(s).supergraphSdl],
  ['@apollo/composition', (s: SubgraphDefinition[]) => composeWithApollo(s).supergraphSdl],
] as const;

describe.each(composers)('composition under %s', (_name, compose) => {
  it('composes the printed SDL with the example contracts subgraph, keeping both SignFlow keys', () => {
    const supergraph = compose(exampleSubgraphs());
    expect(joinKeys(supergraph, 'SignFlow', 'ESIGN')).toEqual(['id', 'provider providerFlowId']);
    expect(joinKeys(supergraph, 'SignFlow', 'CONTRACTS')).toEqual(['id']);
  });

  it('fails when another subgraph conflicts with the printed SDL, so such a change stops npm test', () => {
    const [esign, contracts] = exampleSubgraphs();
    // The other team also resolves SignFlow.status, as an Int: a type clash on a field the esign subgraph owns.
    const sdl = contracts.sdl.replace(/type SignFlow @key\(fields: "id"\) \{/, '$&\n  status: Int!');
    expect(sdl).not.toEqual(contracts.sdl);
    expect(() => compose([esign, { ...contracts, sdl }])).toThrow(/Type of field "SignFlow.status" is incompatible/);
  });
});

describe('the composed API schema', () => {
  const api = buildSchema(composeWithGuild(exampleSubgraphs()).publicSdl);

  it('joins SignFlow across both subgraphs', () => {
    expect(fieldsOf(api, 'SignFlow')).toEqual(expect.arrayContaining(['id', 'provider', 'providerFlowId', 'status', 'events', 'contract']));
    expect(fieldsOf(api, 'Contract')).toEqual(['autoDebit', 'id', 'signFlow', 'title']);
    expect(api.getSubscriptionType()?.getFields().signFlowEvents).toBeDefined();
  });

  it("resolves the contracts subgraph's AutoDebit reference with this subgraph's fields", () => {
    expect(fieldsOf(api, 'AutoDebit')).toEqual(expect.arrayContaining(['id', 'autoDebitNo', 'status', 'merchantNo', 'storeNo']));
  });

  it('exposes every entity of this subgraph', () => {
    for (const type of ['SignFlow', 'CancelTask', 'Rescission', 'AutoDebit']) expect(fieldsOf(api, type)).toContain('id');
  });

  it('hides the federation machinery from clients', () => {
    expect(api.getQueryType()?.getFields()._entities).toBeUndefined();
    expect(api.getType('_Any')).toBeUndefined();
  });
});
