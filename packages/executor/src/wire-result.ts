import type { WireTaskResult } from '@sluice/common';
import type { TaskReport } from './task-runner';

/** A task's report as it goes over the wire. */
export function toWireResult(report: TaskReport, executorId: string): WireTaskResult {
  return {
    status: report.status,
    executor_id: executorId,
    records: String(report.records),
    bytes: String(report.bytes),
    fetch_ms: report.fetchMs,
    process_ms: report.processMs,
    commit_ms: report.commitMs,
    total_ms: report.totalMs,
    chunks: report.chunks,
  };
}
