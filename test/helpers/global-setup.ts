/** Integration tests need a real broker and Redis: fail once, clearly, when they are not given. */
export default function globalSetup(): void {
  const missing = ['KAFKA_BROKERS', 'REDIS_URL'].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `integration tests need ${missing.join(' and ')}: run \`eval "$(npm run -s infra:up)"\` first, or use .ci/run`
    );
  }
}
