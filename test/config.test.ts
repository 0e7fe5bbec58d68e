import { ConfigError, loadConfig } from '../src/config';
import { securityWarnings } from '../src/security/config';
import { providerEnv } from './support/process';

/** A production-like configuration: every provider configured, SANDBOX=off, callback verification as given. */
const configured = (extra: Record<string, string | undefined> = {}) => {
  const { ETC_CALLBACK_VERIFY: _lifted, ...env } = providerEnv('http://127.0.0.1:9');
  return { ...env, ...extra };
};

describe('callback verification at start-up (SANDBOX=off)', () => {
  it('stops start-up when ETC is configured without ETC_CALLBACK_SECRET, naming it and the way out', () => {
    expect(() => loadConfig(configured())).toThrow(ConfigError);
    expect(() => loadConfig(configured())).toThrow(/^ETC_CALLBACK_SECRET: is required when ETC is configured.*ETC_CALLBACK_VERIFY=off/);
  });

  it('stops start-up when Tencent lacks its token or its key, naming the missing one', () => {
    const base = { ETC_CALLBACK_SECRET: 'etc-callback-secret-0123456789' };
    expect(() => loadConfig(configured({ ...base, TENCENT_ESS_CALLBACK_TOKEN: undefined }))).toThrow(/^TENCENT_ESS_CALLBACK_TOKEN: is required when Tencent is configured/);
    expect(() => loadConfig(configured({ ...base, TENCENT_ESS_CALLBACK_KEY: undefined }))).toThrow(/^TENCENT_ESS_CALLBACK_KEY: is required when Tencent is configured/);
    expect(() => loadConfig(configured({ ...base, TENCENT_ESS_CALLBACK_TOKEN: '', TENCENT_ESS_CALLBACK_KEY: '' }))).toThrow(/^TENCENT_ESS_CALLBACK_TOKEN: /);
  });

  it('starts with every secret set, and checks them (nothing to warn about)', () => {
    const config = loadConfig(configured({ ETC_CALLBACK_SECRET: 'etc-callback-secret-0123456789' }));
    expect(config.etc?.callbackSecret).toBe('etc-callback-secret-0123456789');
    expect(config.security).toMatchObject({ etcCallbackVerify: true, tencentCallbackVerify: true });
    expect(securityWarnings(config.security, config)).toEqual([]);
  });

  it('lifts each requirement only with its own …_CALLBACK_VERIFY=off, and then warns', () => {
    expect(() => loadConfig(configured({ TENCENT_ESS_CALLBACK_VERIFY: 'off' }))).toThrow(/^ETC_CALLBACK_SECRET: /);
    const config = loadConfig(configured({ ETC_CALLBACK_VERIFY: 'off', TENCENT_ESS_CALLBACK_VERIFY: 'off', TENCENT_ESS_CALLBACK_TOKEN: undefined }));
    expect(config.security).toMatchObject({ etcCallbackVerify: false, tencentCallbackVerify: false });
    const warnings = securityWarnings(config.security, config);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^ETC_CALLBACK_VERIFY=off: .*ETC_CALLBACK_SECRET/);
    expect(warnings[1]).toMatch(/^TENCENT_ESS_CALLBACK_VERIFY=off: /);
  });

  it('asks nothing of a provider that is not configured, nor of the sandbox', () => {
    expect(() => loadConfig({ SANDBOX: 'off', AUTH: 'off' })).not.toThrow();
    expect(() => loadConfig({ SANDBOX: 'on' })).not.toThrow();
    // e签宝 and Yuansfer callbacks are signed with the AppSecret / API token, without which neither is configured.
    expect(() => loadConfig({ SANDBOX: 'off', AUTH: 'off', ESIGN_APP_ID: 'a', ESIGN_APP_SECRET: 's', YUANSFER_TOKEN: 't', YUANSFER_MERCHANT_NO: '1', YUANSFER_STORE_NO: '2' })).not.toThrow();
    expect(() => loadConfig({ SANDBOX: 'off', AUTH: 'off', ESIGN_APP_ID: 'a' })).toThrow(/^ESIGN_APP_SECRET: is required/);
  });

  it.each([
    [{ ETC_CALLBACK_VERIFY: 'no' }, /^ETC_CALLBACK_VERIFY: must be "on" or "off"/],
    [{ TENCENT_ESS_CALLBACK_VERIFY: 'false' }, /^TENCENT_ESS_CALLBACK_VERIFY: must be "on" or "off"/],
    [{ INTROSPECTION: 'yes' }, /^INTROSPECTION: must be "on" or "off"/],
  ])('names the variable of a malformed switch: %j', (env, message) => {
    expect(() => loadConfig({ SANDBOX: 'on', ...env })).toThrow(message);
  });
});

describe('production mode and introspection', () => {
  it('turns introspection and suggestions off in production unless INTROSPECTION=on', () => {
    expect(loadConfig({ SANDBOX: 'on' }).security).toMatchObject({ production: false, introspection: true, suggestions: true });
    expect(loadConfig({ SANDBOX: 'on', NODE_ENV: 'production' }).security).toMatchObject({ production: true, introspection: false, suggestions: false });
    expect(loadConfig({ SANDBOX: 'on', NODE_ENV: 'production', INTROSPECTION: 'on' }).security).toMatchObject({ introspection: true, suggestions: true });
    expect(loadConfig({ SANDBOX: 'on', INTROSPECTION: 'off' }).security).toMatchObject({ introspection: false, suggestions: false });
  });
});

describe('origins for caller-given URLs', () => {
  it('reads exact origins; in sandbox mode loopback is allowed as well, outside it only the list', () => {
    const sandbox = loadConfig({ SANDBOX: 'on', YUANSFER_REDIRECT_ORIGINS: 'https://shop.example.com, http://localhost:5173', ESIGN_NOTIFY_ORIGINS: 'https://hooks.example.com:8443' });
    expect(sandbox.security.redirectUrls).toEqual({ origins: ['https://shop.example.com', 'http://localhost:5173'], loopback: true });
    expect(sandbox.security.notifyUrls).toEqual({ origins: ['https://hooks.example.com:8443'], loopback: true });
    expect(loadConfig({ SANDBOX: 'off', AUTH: 'off' }).security.redirectUrls).toEqual({ origins: [], loopback: false });
  });

  it.each([
    [{ YUANSFER_REDIRECT_ORIGINS: '*' }, /^YUANSFER_REDIRECT_ORIGINS: "\*" is not allowed/],
    [{ YUANSFER_REDIRECT_ORIGINS: 'https://shop.example.com/return' }, /^YUANSFER_REDIRECT_ORIGINS: "https:\/\/shop.example.com\/return" is not an origin/],
    [{ ESIGN_NOTIFY_ORIGINS: 'hooks.example.com' }, /^ESIGN_NOTIFY_ORIGINS: "hooks.example.com" is not an origin/],
    [{ ESIGN_NOTIFY_ORIGINS: 'ftp://hooks.example.com' }, /^ESIGN_NOTIFY_ORIGINS: "ftp:\/\/hooks.example.com" is not an origin/],
  ])('names the variable of a malformed origin list: %j', (env, message) => {
    expect(() => loadConfig({ SANDBOX: 'on', ...env })).toThrow(message);
  });
});
