import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { driverUrl, getJson, waitForAliveExecutors } from '../helpers/fault';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(60_000);

interface Status {
  leader: string | null;
  leaderInfo: { id: string; httpUrl: string; grpcAddress: string; epoch: string; since: number } | null;
  driverId: string;
  epoch: string;
  state: string;
}

/**
 * A standby is alive and able to take over: ready on /readyz (so Kubernetes rollouts and Argo CD
 * settle), not on /leaderz, and its HTTP server answers the UI and API as the leader does, so one
 * Service may route to every driver. Executors find whichever driver leads.
 */
describe('standby drivers', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it("a standby is ready with role standby, not leader; its API is the leader's, naming the leader's id and addresses; it takes over and executors follow", async () => {
    const topic = uniqueName('standby');
    await createTopic(topic, 2);
    await produceValues(
      topic,
      Array.from({ length: 100 }, (_, i) => `s${i}`),
      2
    );
    // One batch right away, the next one only after a minute: nothing changes while the two are compared.
    const job = [...jobArgs('examples/audit', topic), '--starting-offsets', 'earliest', '--batch-interval-ms', '60000'];
    const grpcPort = String(await freePort());
    const leader = sluice(['driver', ...job, '--grpc-port', grpcPort]);
    const leaderUrl = await driverUrl(leader);
    sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`, '--id', 'standby-test-executor']);
    await waitFor(async () => (await client.get(jobKeys(topic).committed)) === '1', { label: 'batch 1 committed' });
    const standby = sluice(['driver', ...job, '--grpc-port', String(await freePort()), '--standby'], { LOG_LEVEL: 'info' });
    const standbyUrl = await driverUrl(standby);
    await standby.waitForOutput(/standing by: another driver leads/);

    const leaderStatus = (await getJson<Status>(`${leaderUrl}/api/v1/status`)).body;
    const leaderId = leaderStatus.driverId;
    expect(leaderStatus.leader).toBe(leaderId);
    expect(leaderStatus.leaderInfo).toEqual({
      id: leaderId,
      httpUrl: leaderUrl,
      grpcAddress: `127.0.0.1:${grpcPort}`,
      epoch: '1',
      since: expect.any(Number) as number,
    });

    // The standby names the leader, not itself: it answers with the leader's own status.
    const standbyStatus = (await getJson<Status>(`${standbyUrl}/api/v1/status`)).body;
    expect(standbyStatus).toMatchObject({ leader: leaderId, leaderInfo: leaderStatus.leaderInfo, driverId: leaderId, epoch: '1' });

    expect(await getJson(`${standbyUrl}/readyz`)).toEqual({ status: 200, body: { status: 'ready', role: 'standby', state: 'standby' } });
    expect(await getJson(`${standbyUrl}/leaderz`)).toEqual({
      status: 503,
      body: { status: 'not ready', reason: 'this driver is a standby' },
    });
    expect(await getJson(`${leaderUrl}/readyz`)).toEqual({ status: 200, body: { status: 'ready', role: 'leader', state: 'running' } });
    expect(await getJson(`${leaderUrl}/leaderz`)).toEqual({ status: 200, body: { status: 'ready', role: 'leader', state: 'running' } });

    // The API through the standby is the leader's: its batches, and the executors only the leader knows.
    const leaderBatches = await getJson(`${leaderUrl}/api/v1/batches`);
    expect(leaderBatches.body).toMatchObject({ completed: [expect.objectContaining({ id: 1, records: 100 })] });
    expect(await getJson(`${standbyUrl}/api/v1/batches`)).toEqual(leaderBatches);
    expect((await getJson(`${standbyUrl}/api/v1/executors`)).body).toEqual([
      expect.objectContaining({ id: 'standby-test-executor', state: 'alive' }),
    ]);
    // And the UI: the leader's page.
    const page = await fetch(`${standbyUrl}/`);
    expect([page.status, await page.text()]).toEqual([200, await (await fetch(`${leaderUrl}/`)).text()]);
    // Its metrics are its own: a standby reports no job gauges.
    expect(await (await fetch(`${standbyUrl}/metrics`)).text()).toMatch(/^sluice_leader 0$/m);

    // The leader gone, the standby answers itself (no error while it takes over), then leads.
    leader.kill('SIGKILL');
    const meanwhile = await getJson<Status>(`${standbyUrl}/api/v1/status`);
    expect(meanwhile.status).toBe(200);
    expect(meanwhile.body.driverId).not.toBe(leaderId);
    await waitFor(async () => (await fetch(`${standbyUrl}/leaderz`)).status === 200, { label: 'the standby leads' });
    const taken = (await getJson<Status>(`${standbyUrl}/api/v1/status`)).body;
    expect(taken).toMatchObject({ leader: meanwhile.body.driverId, leaderInfo: { httpUrl: standbyUrl, epoch: '2' }, epoch: '2' });
    // The executor was given only the dead driver's address: it finds the new leader where it published itself.
    await waitForAliveExecutors(standbyUrl, ['standby-test-executor'], 10_000);
  });
});
