// @ts-check
/**
 * Fault points the sink test jobs share (pg-audit.js, kafka-audit.js), real signals to the process.
 */

/**
 * `sink`, except that right after a chunk's commit to the sink's own store the process SIGKILLs
 * itself, before the Redis checkpoint moves: the store is ahead of Redis.
 * @template T @param {import('@sluice/common').Sink<T>} sink @returns {import('@sluice/common').Sink<T>}
 */
function killedAfterCommit(sink) {
  return {
    ...sink,
    commit: (outputs, committer) =>
      sink.commit(outputs, {
        ...committer,
        commit: () => {
          process.kill(process.pid, 'SIGKILL');
          return new Promise(() => undefined);
        },
      }),
  };
}

module.exports = { killedAfterCommit };
