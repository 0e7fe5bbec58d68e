#!/usr/bin/env node
// Composes a supergraph from running subgraphs with @theguild/federation-composition (the composition Hive Gateway
// and the Hive registry use), reading each subgraph's SDL from its `_service { sdl }` field.
//
//   node docs/hive-gateway/compose.mjs --out supergraph.graphql esign=http://127.0.0.1:4000/graphql other=http://…
//
// Exits 1, printing every composition error, when the subgraphs do not compose.
import fs from 'node:fs';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args.splice(outIndex, 2)[1] : undefined;
const subgraphs = args.map((arg) => {
  const match = /^([A-Za-z_][A-Za-z0-9_-]*)=(https?:\/\/.+)$/.exec(arg);
  if (!match) throw new Error(`expected <subgraph name>=<GraphQL URL>, got ${JSON.stringify(arg)}`);
  return { name: match[1], url: match[2] };
});
if (subgraphs.length === 0) {
  process.stderr.write('usage: compose.mjs [--out supergraph.graphql] <name>=<url> [<name>=<url> …]\n');
  process.exit(2);
}

async function sdlOf({ name, url }) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = await res.json().catch(() => undefined);
  const sdl = body?.data?._service?.sdl;
  if (typeof sdl !== 'string') throw new Error(`${name} (${url}) answered ${res.status} without _service.sdl: ${JSON.stringify(body?.errors ?? body)}`);
  return sdl;
}

const services = await Promise.all(subgraphs.map(async (s) => ({ name: s.name, url: s.url, typeDefs: parse(await sdlOf(s)) })));
const result = composeServices(services);
if (result.errors) {
  process.stderr.write(`the subgraphs do not compose:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}\n`);
  process.exit(1);
}
if (out) {
  fs.writeFileSync(out, result.supergraphSdl);
  process.stderr.write(`wrote ${out} (${subgraphs.map((s) => s.name).join(', ')})\n`);
} else {
  process.stdout.write(result.supergraphSdl);
}
