import fs from 'node:fs';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

/**
 * An example second subgraph, as another team would write it (SDL-first, Apollo Server + @apollo/subgraph): it
 * adds `SignFlow.contract` and holds references to a SignFlow and an AutoDebit, which the esign subgraph resolves.
 * In-memory; tests start it on port 0 next to the API and put a gateway in front of both.
 */
export const CONTRACTS_SDL_FILE = path.join(__dirname, 'contracts.graphql');

export interface Contract {
  id: string;
  title: string;
  signFlowId: string | null;
  autoDebitId: string | null;
}

export interface ContractsSubgraph {
  url: string;
  /** The SDL it serves as `_service { sdl }`. */
  sdl: string;
  contracts: Map<string, Contract>;
  close(): Promise<void>;
}

interface CreateContractInput {
  title: string;
  signFlowId?: string | null;
  autoDebitId?: string | null;
}

export async function startContractsSubgraph(): Promise<ContractsSubgraph> {
  const sdl = fs.readFileSync(CONTRACTS_SDL_FILE, 'utf8');
  const contracts = new Map<string, Contract>();
  const reference = (typename: string, id: string | null) => (id ? { __typename: typename, id } : null);

  const resolvers = {
    Query: {
      contract: (_: unknown, args: { id: string }) => contracts.get(args.id) ?? null,
      contracts: () => [...contracts.values()],
    },
    Mutation: {
      createContract: (_: unknown, { input }: { input: CreateContractInput }) => {
        if (input.title.trim() === '') throw new GraphQLError('input.title must not be empty', { extensions: { code: 'BAD_USER_INPUT' } });
        const contract: Contract = { id: `C-${contracts.size + 1}`, title: input.title, signFlowId: input.signFlowId ?? null, autoDebitId: input.autoDebitId ?? null };
        contracts.set(contract.id, contract);
        return contract;
      },
    },
    Contract: {
      __resolveReference: (ref: { id: string }) => contracts.get(ref.id) ?? null,
      signFlow: (c: Contract) => reference('SignFlow', c.signFlowId),
      autoDebit: (c: Contract) => reference('AutoDebit', c.autoDebitId),
    },
    SignFlow: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      contract: (flow: { id: string }) => [...contracts.values()].find((c) => c.signFlowId === flow.id) ?? null,
    },
  };

  const server = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers }]), plugins: [ApolloServerPluginInlineTraceDisabled()] });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return {
    url: new URL('/graphql', url).toString(),
    sdl,
    contracts,
    close: () => server.stop(),
  };
}
