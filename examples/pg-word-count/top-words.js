// @ts-check
/** Prints the most frequent words counted by the pg-word-count job: `node top-words.js [n]`. */
const { Client } = require('pg');

async function main() {
  const n = Number(process.argv[2] || 10);
  const client = new Client({ connectionString: process.env.SLUICE_PG_URL || 'postgres://postgres@127.0.0.1:54329/postgres' });
  await client.connect();
  const { rows } = await client.query('SELECT word, count FROM word_counts ORDER BY count DESC, word LIMIT $1', [n]);
  await client.end();
  process.stdout.write(`top ${n} words (table word_counts):\n`);
  for (const { word, count } of rows) process.stdout.write(`  ${String(count).padStart(8)}  ${word}\n`);
}

main().catch((e) => {
  process.stderr.write(`top-words: ${e.message}\n`);
  process.exit(1);
});
