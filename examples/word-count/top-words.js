// @ts-check
/** Prints the most frequent words counted by the word-count job: `node top-words.js [job name] [n]`. */
const Redis = require('ioredis').default;

async function main() {
  const job = process.argv[2] || 'word-count';
  const n = Number(process.argv[3] || 10);
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const counts = await redis.hgetall(`sluice:{${job}}:out:counts`);
  await redis.quit();
  const top = Object.entries(counts)
    .map(([word, count]) => [word, Number(count)])
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .slice(0, n);
  process.stdout.write(`top ${n} words (sluice:{${job}}:out:counts):\n`);
  for (const [word, count] of top) process.stdout.write(`  ${String(count).padStart(8)}  ${word}\n`);
}

main().catch((e) => {
  process.stderr.write(`top-words: ${e.message}\n`);
  process.exit(1);
});
