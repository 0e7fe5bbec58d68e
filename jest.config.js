/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  transform: {
    // Type checking runs once in `npm run typecheck`; ts-jest only transpiles (decorator metadata included).
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }],
    '/node_modules/jose/.+\\.js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  testTimeout: 30000,
  // Every suite closes what it opens (servers, pools, sockets); this only guards CI against a library's stray
  // timer keeping the process alive after the last test.
  forceExit: true,
};
