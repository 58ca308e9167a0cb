/**
 * Two projects: `unit` (no network, ts-jest on sources) and `integration` (real Kafka and Redis
 * from KAFKA_BROKERS / REDIS_URL, processes spawned from the built CLI). `npm test` runs both.
 */
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/packages/*/src/**/__tests__/**/*.test.ts'],
      moduleNameMapper: { '^@sluice/(common|driver|executor)$': '<rootDir>/packages/$1/src' },
    },
    {
      displayName: 'integration',
      rootDir: __dirname,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      moduleNameMapper: { '^@sluice/(common|driver|executor)$': '<rootDir>/packages/$1/src' },
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      slowTestThreshold: 60,
    },
  ],
};
