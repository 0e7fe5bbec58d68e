import { GraphQLError } from 'graphql';
import { formatError, PROVIDER_ERROR_CODES } from '../../src/graphql/errors';
import { runWithRequestId } from '../../src/observability/request-id';
import { ProviderBusinessError, ProviderServerError, ProviderTimeoutError, type ProviderError } from '../../src/providers/errors';
import { capturingLogger } from '../support/observability';

/** What Apollo hands formatError for an error thrown in a resolver. */
function thrown(error: Error): [GraphQLError, ReturnType<GraphQLError['toJSON']>] {
  const wrapped = new GraphQLError(error.message, { path: ['signFlow'], originalError: error });
  return [wrapped, wrapped.toJSON()];
}

describe('formatError', () => {
  it('answers a provider error with the provider\'s own message outside production', () => {
    const [error, formatted] = thrown(new ProviderBusinessError('流程已签署完成，不能撤销', { provider: 'ETC', code: '1002' }));
    expect(formatError(formatted, error)).toEqual({
      message: '流程已签署完成，不能撤销',
      path: ['signFlow'],
      locations: undefined,
      extensions: { code: 'PROVIDER_REJECTED', provider: 'ETC', providerCode: '1002' },
    });
  });

  it('answers a stable message per code in production, keeping the code, the provider and a provider code that is a code', () => {
    const cases: Array<[ProviderError, string]> = [
      [new ProviderBusinessError('流程已签署完成，不能撤销 (flow c64665aa…)', { provider: 'ETC', code: '1002', requestId: 'req-77' }), 'ETC refused the request (PROVIDER_REJECTED)'],
      [new ProviderServerError('Tencent said: InternalError at host 10.0.0.7', { provider: 'TENCENT_ESS', code: 'InternalError.DbError' }), 'TENCENT_ESS failed to process the request (PROVIDER_ERROR)'],
      [new ProviderTimeoutError('ESIGN did not answer within 10000 ms', { provider: 'ESIGN' }), 'ESIGN did not answer in time (PROVIDER_TIMEOUT)'],
    ];
    for (const [original, message] of cases) {
      const [error, formatted] = thrown(original);
      const answer = formatError(formatted, error, undefined, { production: true });
      expect(answer.message).toBe(message);
      expect(answer.extensions).toMatchObject({ code: PROVIDER_ERROR_CODES[original.kind], provider: original.provider });
      expect(answer.extensions?.providerCode).toBe(original.code);
    }
    // Free text where a code belongs is not passed on.
    const [error, formatted] = thrown(new ProviderBusinessError('refused', { provider: 'ESIGN', code: '签署流程不存在 please check', requestId: 'a b c' }));
    expect(formatError(formatted, error, undefined, { production: true }).extensions).toEqual({ code: 'PROVIDER_REJECTED', provider: 'ESIGN' });
  });

  it('masks an unexpected error with the request id, logging the detail under the same id', () => {
    const { logger, lines } = capturingLogger();
    const [error, formatted] = thrown(new Error('SQLITE_CORRUPT: database disk image is malformed'));
    const answer = runWithRequestId('req-123', () => formatError(formatted, error, logger));
    expect(answer).toEqual({
      message: 'Internal server error (request id req-123)',
      path: ['signFlow'],
      locations: undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-123' },
    });
    expect(lines()).toEqual([expect.objectContaining({ requestId: 'req-123', msg: 'unexpected error while resolving', err: expect.objectContaining({ message: expect.stringContaining('SQLITE_CORRUPT') }) })]);
    // An explicit id (a WebSocket operation outside its scope) wins.
    expect(formatError(formatted, error, logger, { requestId: 'ws-9' }).message).toBe('Internal server error (request id ws-9)');
  });
});
