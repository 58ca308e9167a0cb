import { MAX_EXECUTOR_RESTARTS, restartPolicy } from '../commands';

describe('sluice run: restarts of an executor that dies', () => {
  it('waits 1 s, then twice as long for each further death in a row', () => {
    expect([0, 1, 2, 3, 4].map((before) => restartPolicy(before, 500))).toEqual([
      { restart: 1, delayMs: 1000 },
      { restart: 2, delayMs: 2000 },
      { restart: 3, delayMs: 4000 },
      { restart: 4, delayMs: 8000 },
      { restart: 5, delayMs: 16000 },
    ]);
  });

  it(`gives up after ${MAX_EXECUTOR_RESTARTS} restarts in a row`, () => {
    expect(restartPolicy(MAX_EXECUTOR_RESTARTS, 500)).toBeUndefined();
  });

  it('starts a new row once an executor ran for a minute', () => {
    expect(restartPolicy(MAX_EXECUTOR_RESTARTS, 60_000)).toEqual({ restart: 1, delayMs: 1000 });
  });
});
