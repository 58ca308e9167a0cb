import { createLogger, type GroupOffsetClient } from '@sluice/common';
import { GroupMirror } from '../group-mirror';

/** A publisher that records each commit as `topic:partition=offset` pairs; the first `failFirst` commits fail. */
function recordingPublisher(failFirst = 0): { commits: string[]; connects: number; connect: () => Promise<GroupOffsetClient> } {
  let failures = failFirst;
  const publisher: GroupOffsetClient = {
    commit: (_group, offsets) => {
      if (failures-- > 0) return Promise.reject(new Error('coordinator not available'));
      state.commits.push([...offsets].map(([k, v]) => `${k}=${v}`).join(','));
      return Promise.resolve();
    },
    fetch: () => Promise.resolve(new Map()),
    close: () => Promise.resolve(),
  };
  const state = {
    commits: [] as string[],
    connects: 0,
    connect: (): Promise<GroupOffsetClient> => {
      state.connects++;
      return Promise.resolve(publisher);
    },
  };
  return state;
}

const offsets = (n: number): Map<string, bigint> => new Map([['t:0', BigInt(n)]]);
const logger = createLogger('silent');

describe('GroupMirror', () => {
  afterEach(() => jest.useRealTimers());

  it('commits at most once per interval, the latest offsets of that interval', async () => {
    jest.useFakeTimers();
    const kafka = recordingPublisher();
    const mirror = new GroupMirror('g', kafka.connect, logger, 5000);
    mirror.publish(offsets(1)); // the first publication goes at once
    await jest.advanceTimersByTimeAsync(100);
    for (let n = 2; n <= 4; n++) {
      mirror.publish(offsets(n));
      await jest.advanceTimersByTimeAsync(100);
    }
    expect(kafka.commits).toEqual(['t:0=1']);
    await jest.advanceTimersByTimeAsync(5000);
    expect(kafka.commits).toEqual(['t:0=1', 't:0=4']);
    // Nothing new, nothing committed.
    await jest.advanceTimersByTimeAsync(20_000);
    expect(kafka.commits).toEqual(['t:0=1', 't:0=4']);
    await mirror.close();
  });

  it('publishes what is pending when it closes, without waiting for the interval', async () => {
    const kafka = recordingPublisher();
    const mirror = new GroupMirror('g', kafka.connect, logger, 60_000);
    mirror.publish(offsets(1));
    mirror.publish(offsets(2));
    mirror.publish(offsets(3));
    await mirror.close();
    expect(kafka.commits).toEqual(['t:0=1', 't:0=3']);
  });

  it('with interval 0 commits after every publication, skipping offsets already published', async () => {
    const kafka = recordingPublisher();
    const mirror = new GroupMirror('g', kafka.connect, logger, 0);
    mirror.publish(offsets(1));
    await mirror.close();
    mirror.publish(offsets(1));
    mirror.publish(offsets(2));
    await mirror.close();
    expect(kafka.commits).toEqual(['t:0=1', 't:0=2']);
  });

  it('reconnects after a failed commit and publishes on the next occasion', async () => {
    const kafka = recordingPublisher(1);
    const mirror = new GroupMirror('g', kafka.connect, logger, 0);
    mirror.publish(offsets(1));
    await mirror.close();
    expect(kafka.commits).toEqual([]);
    mirror.publish(offsets(2));
    await mirror.close();
    expect(kafka.commits).toEqual(['t:0=2']);
    expect(kafka.connects).toBe(2);
  });
});
