import type { ApolloServerPlugin, BaseContext } from '@apollo/server';

/**
 * GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) status codes for request errors.
 *
 * Apollo Server answers a document that does not parse or validate, or variables that do not coerce, with 400
 * whatever the media type. That is right for `application/graphql-response+json`, whose clients read 4xx bodies as
 * GraphQL responses. A client that only accepts `application/json` (the legacy media type: curl scripts, older
 * clients, many HTTP libraries) may treat any 4xx as a transport failure and never show the errors, so the spec
 * recommends 200 for every well-formed request answered as `application/json`. This plugin does that, and nothing
 * else: requests that are not well-formed (no query, bad JSON, bad method, GET mutations) keep their 4xx.
 */
export function jsonStatusPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.body.kind !== 'single' || response.http.status !== 400) return;
          const errors = response.body.singleResult.errors ?? [];
          if (errors.length === 0 || !errors.every((e) => REQUEST_ERROR_CODES.has(String(e.extensions?.code)))) return;
          if (preferredResponseType(request.http?.headers.get('accept')) !== JSON_TYPE) return;
          response.http.status = 200;
          // Fix the media type this status was chosen for, rather than leave it to a second negotiation.
          response.http.headers.set('content-type', `${JSON_TYPE}; charset=utf-8`);
        },
      };
    },
  };
}

/** `Cache-Control: no-store` on every GraphQL answer: answers are per caller and never to be kept by a cache. */
export function noStorePlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
        },
      };
    },
  };
}

/**
 * Errors of a well-formed request that GraphQL itself rejects: the document does not parse or validate, the
 * operation name names no operation, the variables do not coerce, or it is a subscription (served only over the
 * WebSocket and SSE). A request without a usable `query` is not well-formed and keeps its 400.
 */
const REQUEST_ERROR_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'OPERATION_RESOLUTION_FAILURE', 'BAD_USER_INPUT', 'SUBSCRIPTION_OVER_HTTP']);

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json';

interface MediaRange {
  type: string;
  subtype: string;
  /** Parameters before q other than q itself; a range with any (but `*`) matches no parameterless type. */
  params: Array<[string, string]>;
  q: number;
  /** Position in the Accept header. */
  order: number;
}

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').flatMap((part, order) => {
    const [range = '', ...rest] = part.split(';');
    const [type, subtype] = range.trim().toLowerCase().split('/');
    if (!type || !subtype) return [];
    const params: Array<[string, string]> = [];
    let q = 1;
    for (const param of rest) {
      const [name = '', value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
      if (name === 'q') {
        q = Number(value);
        break;
      }
      params.push([name, value]);
    }
    return [{ type, subtype, params, q: Number.isFinite(q) ? q : 0, order }];
  });
}

interface Priority {
  q: number;
  specificity: number;
  order: number;
}

/** The range that best describes a media type: the most specific match, then the higher q, then the later one. */
function priority(mediaType: string, ranges: MediaRange[]): Priority | undefined {
  const [type, subtype] = mediaType.split('/');
  let best: Priority | undefined;
  for (const range of ranges) {
    if ((range.type !== '*' && range.type !== type) || (range.subtype !== '*' && range.subtype !== subtype)) continue;
    if (range.params.some(([, value]) => value !== '*')) continue;
    const match = { q: range.q, specificity: (range.type === type ? 4 : 0) + (range.subtype === subtype ? 2 : 0) + (range.params.length > 0 ? 1 : 0), order: range.order };
    if (!best || (match.specificity - best.specificity || match.q - best.q || match.order - best.order) > 0) best = match;
  }
  return best;
}

/**
 * The media type Apollo Server answers a single result with, by the rules it uses (the `negotiator` package):
 * no Accept header means `application/json`; otherwise the higher q wins, then the more specific range, then the
 * one listed first in the header, then `application/json`. Undefined when the client accepts neither.
 */
export function preferredResponseType(accept: string | undefined | null): typeof JSON_TYPE | typeof GRAPHQL_RESPONSE_TYPE | undefined {
  if (!accept) return JSON_TYPE;
  const ranges = parseAccept(accept);
  const candidates = [JSON_TYPE, GRAPHQL_RESPONSE_TYPE] as const;
  const ranked = candidates
    .map((mediaType, index) => ({ mediaType, index, p: priority(mediaType, ranges) }))
    .filter((c): c is typeof c & { p: NonNullable<typeof c.p> } => c.p !== undefined && c.p.q > 0)
    .sort((a, b) => b.p.q - a.p.q || b.p.specificity - a.p.specificity || a.p.order - b.p.order || a.index - b.index);
  return ranked[0]?.mediaType;
}
