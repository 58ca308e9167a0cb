import { abortableWait } from '../wait';

describe('abortableWait', () => {
  it('resolves true once the time has passed', async () => {
    await expect(abortableWait(1)).resolves.toBe(true);
    await expect(abortableWait(1, new AbortController().signal)).resolves.toBe(true);
  });

  it('resolves false at once when the signal aborts during the wait, or had aborted before', async () => {
    const stop = new AbortController();
    const waited = abortableWait(60_000, stop.signal);
    stop.abort();
    await expect(waited).resolves.toBe(false);
    await expect(abortableWait(60_000, stop.signal)).resolves.toBe(false);
  });
});
