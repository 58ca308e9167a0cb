import type { BatchEvent } from '@sluice/driver';

/** One line per committed batch on stdout: what `sluice run` shows and what scripts parse. */
export function formatBatch(event: BatchEvent): string {
  const s = event.summary;
  return (
    `batch ${s.id}: ${s.records} records, ${event.tasks} tasks, scheduling delay ${s.schedulingDelayMs} ms, ` +
    `processing time ${s.processingMs} ms (plan ${s.planMs} ms, commit ${event.commitMs} ms)${event.replayed ? ' (replayed)' : ''}`
  );
}

/**
 * What `sluice driver` (and so `sluice run`) prints per committed batch: the batch line, and for
 * bounded runs (`--until`) the progress: done of total, rate and ETA. On a terminal the progress is
 * a bar on a line of its own under each batch line; otherwise it is appended to the batch line.
 * Every write ends its line: the terminal is shared with the logs of this and the other processes
 * of `sluice run`, which would otherwise continue on the bar's line (or be overwritten by a redraw).
 */
export class BatchReporter {
  private readonly started = Date.now();

  constructor(private readonly out: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stdout) {}

  report(event: BatchEvent): void {
    const line = formatBatch(event);
    const progress = event.progress && describeProgress(event.progress, Date.now() - this.started);
    if (!progress) this.out.write(`${line}\n`);
    else if (this.out.isTTY) this.out.write(`${line}\n${bar(progress.fraction, 30)} ${progress.text}\n`);
    else this.out.write(`${line} | ${progress.text}\n`);
  }
}

export function describeProgress(progress: { done: number; total: number }, elapsedMs: number): { fraction: number; text: string } {
  const { done, total } = progress;
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  return {
    fraction,
    text: `${n(done)}/${n(total)} records (${Math.floor(fraction * 100)}%), ${n(rate)} records/s, ETA ${eta === undefined ? '?' : `${eta} s`}`,
  };
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
