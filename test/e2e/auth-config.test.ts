import { ConfigError, loadConfig } from '../../src/config';
import { spawnServer, stopServer } from '../support/process';
import { TEST_JWT_SECRET } from '../support/tokens';

/** Production never fails open by omission (docs/security.md, "Fail closed"). */
describe('authentication configuration', () => {
  it('refuses to start with the sandbox off and no way to verify callers, naming the variables', () => {
    expect(() => loadConfig({ SANDBOX: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig({ SANDBOX: 'off' })).toThrow(/^AUTH_JWT_SECRET: .*AUTH_JWKS_URL.*AUTH=off/);
  });

  it('runs without authentication only when AUTH=off is explicit, and remembers to warn', () => {
    const config = loadConfig({ SANDBOX: 'off', AUTH: 'off' });
    expect(config.auth).toMatchObject({ enabled: false, explicitlyOff: true });
  });

  it('keeps the sandbox quick start open when nothing is set, and turns on as soon as an AUTH_* variable is', () => {
    expect(loadConfig({}).auth).toMatchObject({ enabled: false, explicitlyOff: false });
    expect(loadConfig({ AUTH_JWT_SECRET: TEST_JWT_SECRET }).auth.enabled).toBe(true);
    expect(() => loadConfig({ AUTH_ISSUER: 'https://idp.example' })).toThrow(/^AUTH_JWT_SECRET: authentication is on but no way to verify callers/);
    expect(() => loadConfig({ AUTH: 'on' })).toThrow(ConfigError);
  });

  it.each([
    [{ AUTH: 'maybe' }, /^AUTH: must be "on" or "off"/],
    [{ AUTH_JWT_SECRET: 'short' }, /^AUTH_JWT_SECRET: must be at least 32 bytes/],
    [{ AUTH_JWKS_URL: 'http://idp.example/jwks.json' }, /^AUTH_JWKS_URL: must be https:\/\//],
    [{ AUTH_JWKS_URL: 'not a url' }, /^AUTH_JWKS_URL: is not a valid URL/],
    [{ AUTH_GATEWAY_HMAC_SECRET: 'short' }, /^AUTH_GATEWAY_HMAC_SECRET: must be at least 32 bytes/],
    [{ AUTH: 'off', AUTH_GATEWAY_HMAC_SECRET: 'x'.repeat(40) }, /^AUTH: is off/],
    [{ AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_TENANT_CLAIM: 'bad claim' }, /^AUTH_TENANT_CLAIM: must be a claim name/],
    [{ AUTH_JWT_SECRET: TEST_JWT_SECRET, CORS_ORIGINS: 'app.example.com' }, /^CORS_ORIGINS: "app.example.com" is not an origin/],
    [{ AUTH_JWT_SECRET: TEST_JWT_SECRET, CORS_ORIGINS: '*', NODE_ENV: 'production', SANDBOX: 'on' }, /^CORS_ORIGINS: "\*" is not allowed with NODE_ENV=production/],
  ])('names the variable of a malformed value: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts a JWKS on loopback over http (a local identity provider) and exact origins', () => {
    const config = loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' });
    expect(config.auth.jwksUrl).toBe('http://127.0.0.1:9/jwks.json');
    expect(config.auth.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  describe('the real process', () => {
    it('exits at start-up with SANDBOX=off and no AUTH_*, saying which variables to set', async () => {
      const failure = await spawnServer({ SANDBOX: 'off' }).then(
        async (server) => {
          await stopServer(server);
          return undefined;
        },
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/server exited during start-up/);
      expect(failure).toMatch(/AUTH_JWT_SECRET: with SANDBOX=off every caller must be authenticated/);
    });

    it('starts with AUTH=off explicit, warning that it does', async () => {
      const server = await spawnServer({ SANDBOX: 'off', AUTH: 'off', LOG_LEVEL: 'warn' });
      try {
        expect(server.output()).toMatch(/AUTH=off: every caller may do everything/);
        expect(server.output()).toMatch(/Auth +OFF \(AUTH=off\)/);
      } finally {
        await stopServer(server);
      }
    });

    it('says in the banner that the sandbox quick start runs without authentication', async () => {
      const server = await spawnServer({ SANDBOX: 'on' });
      try {
        expect(server.output()).toMatch(/Auth +off \(sandbox mode, no AUTH_\* set\)/);
      } finally {
        await stopServer(server);
      }
    });
  });
});
