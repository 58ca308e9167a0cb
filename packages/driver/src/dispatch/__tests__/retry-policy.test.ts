import * as grpc from '@grpc/grpc-js';
import { KafkaUnavailableError, RedisUnavailableError, SluiceError, fromServiceError, serviceError } from '@sluice/common';
import { MAX_OUTAGE_BACKOFF_MS, RetryPolicy } from '../retry-policy';

const policy = new RetryPolicy({ maxTaskFailures: 3, retryBackoffMs: 100 });
const taskError = (retriable = true): SluiceError => new SluiceError('SLUICE_PROCESS_FAILED', 'boom', { retriable });

describe('RetryPolicy.classify', () => {
  it('tells a fenced epoch, an outage, a gone executor and a failure of the task apart', () => {
    expect(policy.classify(new SluiceError('SLUICE_FENCED', 'fenced'))).toBe('fenced');
    expect(policy.classify(new KafkaUnavailableError('down'))).toBe('outage');
    expect(policy.classify(new RedisUnavailableError('down'))).toBe('outage');
    expect(policy.classify(new SluiceError('SLUICE_EXECUTOR_LOST', 'shutting down', { retriable: true }))).toBe('executor-gone');
    expect(policy.classify(fromServiceError(serviceError(grpc.status.UNAVAILABLE, 'closed'), 'task'))).toBe('executor-gone');
    // A timed-out call is the task's failure: the executor answered, the task did not finish in time.
    expect(policy.classify(fromServiceError(serviceError(grpc.status.DEADLINE_EXCEEDED, 'late'), 'task'))).toBe('task');
    expect(policy.classify(taskError())).toBe('task');
  });

  it('counts only failures of the task itself against maxTaskFailures', () => {
    expect(policy.counts(taskError())).toBe(true);
    expect(policy.counts(new KafkaUnavailableError('down'))).toBe(false);
    expect(policy.counts(new SluiceError('SLUICE_EXECUTOR_LOST', 'gone', { retriable: true }))).toBe(false);
    expect(policy.counts(new SluiceError('SLUICE_FENCED', 'fenced'))).toBe(false);
  });
});

describe('RetryPolicy.givesUp', () => {
  it('gives up at maxTaskFailures failures, or at once on an error that is not retriable', () => {
    expect([0, 1, 2, 3, 4].map((failures) => policy.givesUp(taskError(), failures))).toEqual([false, false, false, true, true]);
    expect(policy.givesUp(taskError(false), 0)).toBe(true);
  });

  it('with maxTaskFailures 1, gives up after the first failure', () => {
    expect(new RetryPolicy({ maxTaskFailures: 1, retryBackoffMs: 100 }).givesUp(taskError(), 1)).toBe(true);
  });
});

describe('RetryPolicy.backoffMs', () => {
  it('grows linearly with the failures of the task (at least one step)', () => {
    expect([0, 1, 2, 3].map((failures) => policy.backoffMs('task', failures, 0))).toEqual([100, 100, 200, 300]);
    expect(policy.backoffMs('executor-gone', 2, 5)).toBe(200);
  });

  it('doubles with each outage, up to the cap', () => {
    expect([0, 1, 2, 3, 5, 10].map((outages) => policy.backoffMs('outage', 0, outages))).toEqual([
      100,
      200,
      400,
      800,
      3200,
      MAX_OUTAGE_BACKOFF_MS,
    ]);
  });
});
