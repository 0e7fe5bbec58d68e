import fs from 'node:fs';
import path from 'node:path';
import { composeServices as apolloCompose } from '@apollo/composition';
import { composeServices as guildCompose } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { CONTRACTS_SDL_FILE } from './contracts-subgraph';

/** The printed SDL of this subgraph, as committed (`npm run schema:check` keeps it equal to the code). */
export const ESIGN_SDL_FILE = path.resolve(__dirname, '..', '..', 'schema', 'subgraph.graphql');

export interface SubgraphDefinition {
  name: string;
  url: string;
  sdl: string;
}

/** This subgraph and the example contracts subgraph, from their SDL files. */
export function exampleSubgraphs(urls: { esign?: string; contracts?: string } = {}): SubgraphDefinition[] {
  return [
    { name: 'esign', url: urls.esign ?? 'http://esign.invalid/graphql', sdl: fs.readFileSync(ESIGN_SDL_FILE, 'utf8') },
    { name: 'contracts', url: urls.contracts ?? 'http://contracts.invalid/graphql', sdl: fs.readFileSync(CONTRACTS_SDL_FILE, 'utf8') },
  ];
}

export interface Composed {
  /** The supergraph a router or gateway loads. */
  supergraphSdl: string;
}

export class CompositionError extends Error {
  constructor(
    readonly composer: string,
    readonly messages: string[],
  ) {
    super(`${composer} could not compose the supergraph:\n- ${messages.join('\n- ')}`);
    this.name = 'CompositionError';
  }
}

const services = (subgraphs: SubgraphDefinition[]) => subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) }));

/** Composes with @theguild/federation-composition (what Hive Gateway and the Hive registry use). */
export function composeWithGuild(subgraphs: SubgraphDefinition[]): Composed & { publicSdl: string } {
  const result = guildCompose(services(subgraphs));
  if (result.errors) throw new CompositionError('@theguild/federation-composition', result.errors.map((e) => e.message));
  return { supergraphSdl: result.supergraphSdl, publicSdl: result.publicSdl };
}

/** Composes with @apollo/composition (what Rover and GraphOS use for Apollo Router). */
export function composeWithApollo(subgraphs: SubgraphDefinition[]): Composed & { hints: string[] } {
  const result = apolloCompose(services(subgraphs));
  if (result.errors) throw new CompositionError('@apollo/composition', result.errors.map((e) => e.message));
  return { supergraphSdl: result.supergraphSdl, hints: result.hints.map((h) => h.toString()) };
}
