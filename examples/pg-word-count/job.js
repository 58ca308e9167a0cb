// @ts-check
/**
 * pg-word-count: splits each record's value into lowercase words and keeps per-word counts in the
 * Postgres table `word_counts` (SLUICE_PG_URL, default the local deploy/local/postgres.sh server),
 * exactly once: each chunk's counts and its partition's offset commit in one transaction.
 *
 *   bash deploy/local/postgres.sh up
 *   node examples/word-count/produce-sample.js lines 20000
 *   sluice run --job examples/pg-word-count --until latest
 *   node examples/pg-word-count/top-words.js
 */
const { defineJob, postgresSink } = require('@sluice/common');

module.exports = defineJob({
  name: 'pg-word-count',
  source: { topics: ['lines'], startingOffsets: 'earliest' },
  batch: { intervalMs: 1000, maxRatePerPartition: 50_000 },
  // Counting within the chunk first hands the sink one [word, count] pair per distinct word.
  process(records) {
    const counts = new Map();
    for (const record of records) {
      if (record.value === null) continue;
      const text = record.value.toString('utf8').toLowerCase();
      for (const word of text.split(/[^\p{L}\p{N}']+/u)) {
        if (word !== '') counts.set(word, (counts.get(word) ?? 0) + 1);
      }
    }
    return counts;
  },
  sink: postgresSink({
    connectionString: process.env.SLUICE_PG_URL || 'postgres://postgres@127.0.0.1:54329/postgres',
    setup: async (client) => {
      await client.query('CREATE TABLE IF NOT EXISTS word_counts (word text PRIMARY KEY, count bigint NOT NULL)');
    },
    // One statement per chunk: the words and their counts as two arrays, added to the stored counts.
    write: async (client, pairs) => {
      if (pairs.length === 0) return;
      await client.query(
        `INSERT INTO word_counts (word, count) SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (word) DO UPDATE SET count = word_counts.count + EXCLUDED.count`,
        [pairs.map(([word]) => word), pairs.map(([, count]) => count)]
      );
    },
  }),
});
