/**
 * Three projects: `unit` (no network, ts-jest on sources), `integration` (real Kafka and Redis
 * from KAFKA_BROKERS / REDIS_URL, processes spawned from the built CLI) and `fault` (processes
 * killed, paused and restarted; a 3-node Kafka cluster and Redis servers of its own, started by its
 * global setup). `npm test` runs all three.
 */
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }];
// Only the sources and tests are crawled: .cache holds Kafka, Helm and promtool with their Go module cache.
const roots = ['<rootDir>/packages', '<rootDir>/test'];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      roots,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/packages/*/src/**/__tests__/**/*.test.ts'],
      moduleNameMapper: { '^@sluice/(common|driver|executor)$': '<rootDir>/packages/$1/src' },
    },
    {
      displayName: 'integration',
      rootDir: __dirname,
      roots,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      moduleNameMapper: { '^@sluice/(common|driver|executor)$': '<rootDir>/packages/$1/src' },
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
      slowTestThreshold: 60,
    },
    {
      displayName: 'fault',
      rootDir: __dirname,
      roots,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/fault/**/*.test.ts'],
      moduleNameMapper: { '^@sluice/(common|driver|executor)$': '<rootDir>/packages/$1/src' },
      globalSetup: '<rootDir>/test/helpers/fault-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/fault-teardown.ts',
      slowTestThreshold: 120,
    },
  ],
};
