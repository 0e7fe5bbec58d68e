import {
  createInlineSigningKeyProvider,
  createRemoteJwksSigningKeyProvider,
  defineConfig,
  extractFromHeader,
} from '@graphql-hive/gateway';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * Hive Gateway in front of the esign subgraph and its neighbours. Run it with
 *
 *   npx hive-gateway supergraph supergraph.graphql -c docs/hive-gateway/gateway.config.ts
 *
 * where supergraph.graphql is composed with @theguild/federation-composition (compose.mjs next to this file, the
 * Hive CLI or GraphQL Mesh Compose). Clients reach the gateway at /graphql over HTTP, SSE or graphql-ws.
 *
 * Authentication (docs/security.md, "Behind a gateway") is on when the gateway is given a way to verify tokens:
 *   GATEWAY_JWT_SECRET   HS256 secret (the same value as the subgraph's AUTH_JWT_SECRET), or
 *   GATEWAY_JWKS_URL     the identity provider's JWKS (the subgraph's AUTH_JWKS_URL);
 *   SUBGRAPH_HMAC_SECRET signs every subgraph request (the subgraph's AUTH_GATEWAY_HMAC_SECRET).
 * The gateway then verifies the bearer token at the edge, enforces the @authenticated / @requiresScopes rules of the
 * supergraph itself, and forwards the verified claims and the token to the subgraph in extensions.jwt, HMAC-signed.
 */
const jwtSecret = process.env.GATEWAY_JWT_SECRET;
const jwksUrl = process.env.GATEWAY_JWKS_URL;
const hmacSecret = process.env.SUBGRAPH_HMAC_SECRET;
const authOn = Boolean(jwtSecret || jwksUrl);
const jwks = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl)) : undefined;

/**
 * The caller for the @authenticated / @requiresScopes rules. Over graphql-ws, Hive Gateway 2 resolves this before its
 * JWT plugin has read `connection_init`, so there the token is verified here, with the same key.
 */
async function resolveUser(context: { jwt?: { payload?: Record<string, unknown> }; connectionParams?: Record<string, unknown> }): Promise<Record<string, unknown> | null> {
  if (context.jwt?.payload) return context.jwt.payload;
  const lookup = bearerFromConnectionParams({ serverContext: context });
  if (!lookup) return null;
  try {
    const { payload } = jwtSecret
      ? await jwtVerify(lookup.token, new TextEncoder().encode(jwtSecret), { algorithms: ['HS256'] })
      : await jwtVerify(lookup.token, jwks!, { algorithms: ['RS256', 'ES256', 'EdDSA'] });
    return payload as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** `{"authorization": "Bearer <token>"}` in connection_init (Hive's own extractor takes the bare token only). */
function bearerFromConnectionParams({ serverContext }: { serverContext?: { connectionParams?: Record<string, unknown> } }): { prefix?: string; token: string } | undefined {
  const value = serverContext?.connectionParams?.authorization;
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  return match ? { prefix: 'Bearer', token: match[1] as string } : { token: value };
}

export const gatewayConfig = defineConfig({
  // Used when the command line names no supergraph.
  supergraph: './supergraph.graphql',
  transportEntries: {
    // The esign subgraph serves subscriptions over graphql-ws at /graphql. The gateway's default subgraph transport
    // for subscriptions (SSE over GET) is refused by Apollo Server's CSRF prevention, so name the protocol here.
    // The key is the subgraph's name in the supergraph; '*.http' would apply it to every HTTP subgraph.
    esign: {
      options: {
        subscriptions: {
          kind: 'ws',
          location: '/graphql',
          // The subgraph authenticates each WebSocket at connection_init: the gateway opens one per client token.
        },
      },
    },
  },
  ...(authOn
    ? {
        jwt: {
          signingKeyProviders: [jwtSecret ? createInlineSigningKeyProvider(jwtSecret) : createRemoteJwksSigningKeyProvider({ jwksUri: jwksUrl as string })],
          // Clients send `Authorization: Bearer …` over HTTP and `{"authorization": "Bearer …"}` in connection_init,
          // the same as they would to the subgraph itself.
          tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' }), bearerFromConnectionParams],
          // Anonymous operations still reach the rules below, which answer UNAUTHENTICATED field by field.
          reject: { missingToken: false, invalidToken: true },
          // The token itself too: the subgraph re-verifies it, so a captured signed operation cannot be replayed under
          // another identity (the HMAC covers the operation, not extensions).
          forward: { payload: true, token: true, extensionsFieldName: 'jwt' },
        },
        genericAuth: {
          mode: 'protect-granular',
          resolveUserFn: resolveUser,
          extractScopes: (user: Record<string, unknown> | null) =>
            typeof user?.scope === 'string' ? user.scope.split(' ') : Array.isArray(user?.scp) ? (user.scp as string[]) : [],
          rejectUnauthenticated: false,
        },
      }
    : {}),
  ...(hmacSecret ? { hmacSignature: { secret: hmacSecret } } : {}),
});
