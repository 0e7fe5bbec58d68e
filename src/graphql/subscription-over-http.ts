import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError } from 'graphql';

export const SUBSCRIPTION_OVER_HTTP_MESSAGE =
  'Subscriptions are not served over plain HTTP: open a WebSocket to /graphql (protocol graphql-transport-ws, the graphql-ws library) or POST the subscription to /graphql/stream (Server-Sent Events, the graphql-sse protocol)';

/**
 * A subscription posted to /graphql would otherwise run its event resolver once against no event and fail with an
 * internal error; it is refused before execution, saying where subscriptions are served.
 */
export function subscriptionOverHttpPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError(SUBSCRIPTION_OVER_HTTP_MESSAGE, { extensions: { code: 'SUBSCRIPTION_OVER_HTTP', http: { status: 400 } } });
        },
      };
    },
  };
}
