import { Counter, Gauge, type Registry } from 'prom-client';
import type { BlockLog } from '@sluice/common';
import type { ReceiverTracker } from './receiver-tracker';

const states = ['starting', 'receiving', 'restarting', 'waiting', 'stopped'] as const;

/**
 * Receiver mode's `sluice_receiver_*` metrics on the driver's registry: each receiver's state,
 * rate and blocks, the blocks lost, and the size of each write-ahead log (read at scrape time).
 */
export function registerReceiverMetrics(
  registry: Registry,
  tracker: ReceiverTracker,
  log: BlockLog,
  writeAheadLog: boolean
): { blocksLost: Counter; recordsLost: Counter } {
  const registers = [registry];
  new Gauge({
    name: 'sluice_receiver_state',
    help: 'Receiver state: 1 for the state each receiver is in (starting, receiving, restarting, waiting, stopped)',
    labelNames: ['receiver', 'state'],
    registers,
    collect() {
      this.reset();
      for (const r of tracker.describe()) for (const s of states) this.set({ receiver: r.id, state: s }, r.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sluice_receiver_rate_records_per_second',
    help: 'Records per second each receiver received over about the last 10 s',
    labelNames: ['receiver'],
    registers,
    collect() {
      for (const r of tracker.describe()) this.set({ receiver: r.id }, r.rate);
    },
  });
  new Gauge({
    name: 'sluice_receiver_blocks',
    help: 'Blocks each receiver reported and the driver recorded since this driver leads',
    labelNames: ['receiver'],
    registers,
    collect() {
      for (const r of tracker.describe()) this.set({ receiver: r.id }, r.blocks);
    },
  });
  new Gauge({
    name: 'sluice_receiver_restarts',
    help: 'Restarts of each receiver since this driver leads',
    labelNames: ['receiver'],
    registers,
    collect() {
      for (const r of tracker.describe()) this.set({ receiver: r.id }, r.restarts);
    },
  });
  new Gauge({
    name: 'sluice_receiver_bytes',
    help: 'Key and value bytes each receiver received (and the driver recorded) since this driver leads',
    labelNames: ['receiver'],
    registers,
    collect() {
      for (const r of tracker.describe()) this.set({ receiver: r.id }, r.bytes);
    },
  });
  if (writeAheadLog) {
    new Gauge({
      name: 'sluice_receiver_log_written_bytes',
      help: 'Bytes each receiver wrote to its write-ahead log since this driver leads',
      labelNames: ['receiver'],
      registers,
      collect() {
        for (const r of tracker.describe()) this.set({ receiver: r.id }, r.logBytes);
      },
    });
    new Gauge({
      name: 'sluice_receiver_log_bytes',
      help: 'Bytes the write-ahead log of each receiver takes in Redis (MEMORY USAGE)',
      labelNames: ['receiver'],
      registers,
      async collect() {
        for (const r of tracker.describe()) this.set({ receiver: r.id }, (await log.logSize(r.id).catch(() => ({ bytes: 0 }))).bytes);
      },
    });
  }
  return {
    blocksLost: new Counter({
      name: 'sluice_receiver_blocks_lost_total',
      help: 'Blocks lost (SLUICE_BLOCK_LOST): their executor died and no write-ahead log held them',
      registers,
    }),
    recordsLost: new Counter({ name: 'sluice_receiver_records_lost_total', help: 'Records of the blocks lost', registers }),
  };
}
