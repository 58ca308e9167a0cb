/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   Rendered manifests are untyped YAML: the assertions check their shape. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { brokers, redisUrl, repoRoot, uniqueName } from '../helpers/env';
import { chartDir, find, helm, helmBinary, render, renderWithSecrets, type K8sObject } from '../helpers/helm';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort } from '../helpers/processes';
import { auditCounts, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

// The local run waits up to 90 s for the job and then each process's grace period (45 s) for its exit.
jest.setTimeout(300_000);

const release = 'sluice-test';
const driverName = `${release}-driver`;
const executorName = `${release}-executor`;
const tokenSecretName = `${release}-grpc-token`;
const tokenFile = '/var/run/secrets/sluice/grpc-token/token';
const valueSets = ['ci/default-values.yaml', 'ci/ha-values.yaml', 'ci/tls-values.yaml', 'ci/scaling-values.yaml'];

type Json = any;
const podSpec = (o: K8sObject): Json => o.spec.template.spec;
const container = (o: K8sObject): Json => podSpec(o).containers[0];
const envOf = (o: K8sObject): Record<string, Json> =>
  Object.fromEntries(container(o).env.map((e: Json) => [e.name, e.value ?? e.valueFrom]));
const portOf = (o: K8sObject, name: string): number => container(o).ports.find((p: Json) => p.name === name).containerPort;
/** Seconds, from a grace period and a shutdown timeout in milliseconds. */
const shutdownSeconds = (o: K8sObject, key: string): number => Number(envOf(o)[key]) / 1000;

let binary: string;
beforeAll(() => {
  // Built by the global setup (deploy/local/test-deps.sh); on its own, the first build takes about 100 s.
  binary = helmBinary();
}, 600_000);

describe('Helm chart: lint and render', () => {
  it.each(valueSets)('helm lint --strict passes with %s', (file) => {
    const r = helm(binary, ['lint', '--strict', chartDir, '-f', join(chartDir, file)]);
    expect([r.status, r.stdout + r.stderr]).toEqual([0, expect.stringContaining('1 chart(s) linted, 0 chart(s) failed')]);
  });

  it.each(valueSets)('%s: restricted security context, no API token, Secrets by reference but the generated gRPC token', (file) => {
    const objects = render(binary, [file]);
    // ci/tls-values.yaml brings its own token Secret; the others use the one the chart generates.
    expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual(
      file === 'ci/tls-values.yaml' ? [] : [tokenSecretName]
    );
    for (const name of [driverName, executorName]) {
      const deployment = find(objects, 'Deployment', name);
      expect(podSpec(deployment).automountServiceAccountToken).toBe(false);
      expect(podSpec(deployment).securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container(deployment).securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      // A writable /tmp under the read-only root file system.
      expect(container(deployment).volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(container(deployment).command).toEqual(['sluice']);
    }
  });

  it('default values: one driver, two executors, ports, probes, environment and grace periods', () => {
    const objects = render(binary, ['ci/default-values.yaml']);
    const driver = find(objects, 'Deployment', driverName);
    const executor = find(objects, 'Deployment', executorName);
    // A rolling update: the new driver is ready as a standby before the old one stops and hands the lease over.
    expect([driver.spec.replicas, driver.spec.strategy, executor.spec.replicas]).toEqual([
      1,
      { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      2,
    ]);
    expect(container(driver).args).toEqual(['driver', '--job', '/app/examples/word-count', '--config', '/etc/sluice/config/config.json']);
    expect(container(executor).args).toEqual([
      'executor',
      '--job',
      '/app/examples/word-count',
      '--config',
      '/etc/sluice/config/config.json',
    ]);

    expect(envOf(driver)).toEqual({
      SLUICE_DRIVER_HOST: '0.0.0.0',
      SLUICE_DRIVER_GRPC_PORT: '7070',
      SLUICE_DRIVER_HTTP_PORT: '4040',
      SLUICE_DRIVER_ADVERTISE_HOST: { fieldRef: { fieldPath: 'status.podIP' } },
      SLUICE_DRIVER_STANDBY: 'true',
      SLUICE_DRIVER_SHUTDOWN_TIMEOUT_MS: '30000',
      KAFKA_BROKERS: 'kafka:9092',
      REDIS_URL: 'redis://redis:6379',
      SLUICE_GRPC_TOKEN_FILE: tokenFile,
    });
    expect(envOf(executor)).toEqual({
      SLUICE_EXECUTOR_HOST: '0.0.0.0',
      SLUICE_EXECUTOR_ADVERTISE_HOST: { fieldRef: { fieldPath: 'status.podIP' } },
      SLUICE_EXECUTOR_DRIVER: `${driverName}:7070`,
      SLUICE_EXECUTOR_GRPC_PORT: '7071',
      SLUICE_EXECUTOR_HTTP_PORT: '4041',
      SLUICE_EXECUTOR_SLOTS: '2',
      SLUICE_EXECUTOR_SHUTDOWN_TIMEOUT_MS: '30000',
      KAFKA_BROKERS: 'kafka:9092',
      REDIS_URL: 'redis://redis:6379',
      SLUICE_GRPC_TOKEN_FILE: tokenFile,
    });
    expect([portOf(driver, 'grpc'), portOf(driver, 'http'), portOf(executor, 'grpc'), portOf(executor, 'http')]).toEqual([
      7070, 4040, 7071, 4041,
    ]);

    // Probes on the health endpoints of the HTTP port (named, so they follow the port).
    expect([container(driver).livenessProbe.httpGet, container(driver).readinessProbe.httpGet]).toEqual([
      { path: '/healthz', port: 'http' },
      { path: '/readyz', port: 'http' },
    ]);
    expect([container(executor).livenessProbe.httpGet, container(executor).readinessProbe.httpGet]).toEqual([
      { path: '/healthz', port: 'http' },
      { path: '/readyz', port: 'http' },
    ]);

    // SIGKILL comes only after the process had its whole shutdown timeout to drain.
    for (const [deployment, key] of [
      [driver, 'SLUICE_DRIVER_SHUTDOWN_TIMEOUT_MS'],
      [executor, 'SLUICE_EXECUTOR_SHUTDOWN_TIMEOUT_MS'],
    ] as const) {
      expect(podSpec(deployment).terminationGracePeriodSeconds).toBe(shutdownSeconds(deployment, key) + 15);
    }

    // Driver Service: gRPC for executors and HTTP for UI/API/metrics; executors: headless.
    expect(find(objects, 'Service', driverName).spec.ports).toEqual([
      { name: 'grpc', port: 7070, targetPort: 'grpc', protocol: 'TCP' },
      { name: 'http', port: 4040, targetPort: 'http', protocol: 'TCP' },
    ]);
    expect(find(objects, 'Service', executorName).spec.clusterIP).toBe('None');
    expect(JSON.parse(find(objects, 'ConfigMap', release).data['config.json'])).toEqual({});
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'NetworkPolicy',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'Service',
      'ServiceAccount',
    ]);
  });

  it('high availability: two standby-capable drivers, all behind the Service, with a PodDisruptionBudget a drain can satisfy', () => {
    const objects = render(binary, ['ci/ha-values.yaml']);
    const driver = find(objects, 'Deployment', driverName);
    expect([driver.spec.replicas, envOf(driver).SLUICE_DRIVER_STANDBY]).toEqual([2, 'true']);
    expect(driver.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    // Standbys are ready, so the Service routes to every driver; one driver up is enough.
    expect(find(objects, 'Service', driverName).spec.selector).toEqual(driver.spec.selector.matchLabels);
    expect(container(driver).readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const pdb = find(objects, 'PodDisruptionBudget', driverName);
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: driver.spec.selector.matchLabels } });
    const byMaxUnavailable = render(binary, ['ci/ha-values.yaml'], ['--set', 'driver.podDisruptionBudget.maxUnavailable=1']);
    expect(find(byMaxUnavailable, 'PodDisruptionBudget', driverName).spec).toEqual({ maxUnavailable: 1, selector: pdb.spec.selector });
    // Without standby a new driver could not start beside the old one: the old one stops first.
    const single = render(binary, ['ci/default-values.yaml'], ['--set', 'driver.standby=false']);
    expect(find(single, 'Deployment', driverName).spec.strategy).toEqual({ type: 'Recreate' });
    expect(find(objects, 'PodDisruptionBudget', executorName).spec.maxUnavailable).toBe(1);
    expect(find(objects, 'Deployment', executorName).spec.replicas).toBe(3);
  });

  it('TLS values: every credential is a file mounted read-only from the referenced Secret', () => {
    const objects = render(binary, ['ci/tls-values.yaml']);
    const expected: Record<string, [string, string, string]> = {
      // env: [Secret, key in the Secret, file path]
      SLUICE_GRPC_TLS_CERT_FILE: ['sluice-grpc-tls', 'tls.crt', '/var/run/secrets/sluice/grpc-tls/tls.crt'],
      SLUICE_GRPC_TLS_KEY_FILE: ['sluice-grpc-tls', 'tls.key', '/var/run/secrets/sluice/grpc-tls/tls.key'],
      SLUICE_GRPC_TLS_CA_FILE: ['sluice-grpc-tls', 'ca.crt', '/var/run/secrets/sluice/grpc-tls/ca.crt'],
      SLUICE_GRPC_TOKEN_FILE: ['sluice-grpc-token', 'token', '/var/run/secrets/sluice/grpc-token/token'],
      SLUICE_KAFKA_SSL_CA_FILE: ['kafka-ca', 'ca.crt', '/var/run/secrets/sluice/kafka-tls/ca.crt'],
      SLUICE_KAFKA_SASL_PASSWORD_FILE: ['kafka-sasl', 'password', '/var/run/secrets/sluice/kafka-sasl/password'],
      SLUICE_REDIS_PASSWORD_FILE: ['redis-acl', 'password', '/var/run/secrets/sluice/redis-password/password'],
      SLUICE_REDIS_TLS_CA_FILE: ['redis-tls', 'ca.crt', '/var/run/secrets/sluice/redis-tls/ca.crt'],
      SLUICE_REDIS_TLS_CERT_FILE: ['redis-tls', 'tls.crt', '/var/run/secrets/sluice/redis-tls/tls.crt'],
      SLUICE_REDIS_TLS_KEY_FILE: ['redis-tls', 'tls.key', '/var/run/secrets/sluice/redis-tls/tls.key'],
    };
    for (const name of [driverName, executorName]) {
      const deployment = find(objects, 'Deployment', name);
      const env = envOf(deployment);
      expect(env).toMatchObject({
        SLUICE_GRPC_TLS: 'mtls',
        SLUICE_GRPC_TLS_SERVER_NAME: 'sluice.internal',
        SLUICE_KAFKA_SSL: 'true',
        SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        SLUICE_KAFKA_SASL_USERNAME: 'sluice',
        SLUICE_REDIS_USERNAME: 'sluice',
        KAFKA_BROKERS: 'kafka-0.kafka:9093,kafka-1.kafka:9093',
        REDIS_URL: 'rediss://redis-master:6380',
      });
      // No credential travels in the environment: only file paths.
      expect(Object.keys(env).filter((k) => /PASSWORD$|TOKEN$|KEY$/.test(k))).toEqual([]);
      for (const [variable, [secret, key, path]] of Object.entries(expected)) {
        expect([variable, env[variable]]).toEqual([variable, path]);
        const mount = container(deployment).volumeMounts.find((m: Json) => path.startsWith(`${m.mountPath}/`));
        expect([variable, mount?.readOnly]).toEqual([variable, true]);
        const volume = podSpec(deployment).volumes.find((v: Json) => v.name === mount.name);
        expect([variable, volume.secret.secretName, volume.secret.defaultMode]).toEqual([variable, secret, 0o440]);
        expect(volume.secret.items).toContainEqual({ key, path: path.slice(mount.mountPath.length + 1) });
      }
    }
  });

  it("scaling values: KEDA scales executors on the driver's lag gauge, ServiceMonitor and NetworkPolicies", () => {
    const objects = render(binary, ['ci/scaling-values.yaml']);
    const executor = find(objects, 'Deployment', executorName);
    expect(executor.spec.replicas).toBeUndefined(); // owned by KEDA's autoscaler
    const scaled = find(objects, 'ScaledObject', executorName);
    expect(scaled.spec.scaleTargetRef).toEqual({ name: executorName });
    expect(scaled.spec.triggers).toEqual([
      {
        type: 'prometheus',
        metadata: {
          serverAddress: 'http://prometheus-operated.monitoring:9090',
          query: `sum(sluice_partition_lag_offsets{namespace="default",service="${driverName}"})`,
          threshold: '5000',
          activationThreshold: '0',
        },
      },
    ]);
    // The gauge the query names is the driver's: name and label as the code declares them.
    const metrics = readFileSync(join(repoRoot, 'packages', 'driver', 'src', 'api', 'metrics.ts'), 'utf8');
    expect(metrics).toMatch(/name: 'sluice_partition_lag_offsets',[^}]*labelNames: \['topic', 'partition'\]/);

    const monitor = find(objects, 'ServiceMonitor', release);
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '15s' }]);
    for (const service of [driverName, executorName]) {
      expect(find(objects, 'Service', service).metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    }
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });

    // gRPC: executors only from drivers, drivers only from executors.
    const driverPods = find(objects, 'Deployment', driverName).spec.selector.matchLabels;
    const executorPods = executor.spec.selector.matchLabels;
    const executorPolicy = find(objects, 'NetworkPolicy', executorName);
    const driverPolicy = find(objects, 'NetworkPolicy', driverName);
    expect(executorPolicy.spec.ingress[0]).toEqual({
      from: [{ podSelector: { matchLabels: driverPods } }],
      ports: [{ port: 7071, protocol: 'TCP' }],
    });
    expect(driverPolicy.spec.ingress[0]).toEqual({
      from: [{ podSelector: { matchLabels: executorPods } }],
      ports: [{ port: 7070, protocol: 'TCP' }],
    });
    // networkPolicy.restrictHttp: HTTP only from this release's pods and the monitoring namespace.
    expect(driverPolicy.spec.ingress[1]).toEqual({
      ports: [{ port: 4040, protocol: 'TCP' }],
      from: [
        { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/instance': release } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      ],
    });
    expect(driverPolicy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(driverPolicy.spec.egress[0].ports).toEqual([
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ]);
  });

  it.each([
    [['--set', 'driver.podDisruptionBudget.enabled=true'], 'driver.podDisruptionBudget.enabled needs driver.replicas >= 2'],
    [
      ['--set', 'executor.terminationGracePeriodSeconds=30'],
      'executor.terminationGracePeriodSeconds (30 s) must be longer than executor.shutdownTimeoutMs (30000 ms)',
    ],
    [
      ['--set', 'executor.autoscaling.enabled=true', '--set', 'executor.keda.enabled=true'],
      'executor.autoscaling.enabled and executor.keda.enabled exclude each other',
    ],
    [['--set', 'driver.replicas=2', '--set', 'driver.standby=false'], 'driver.replicas > 1 needs driver.standby: true'],
    [['--set', 'grpc.tls.mode=mtls'], 'grpc.tls.existingSecret is required when grpc.tls.mode is tls or mtls'],
    [['--set', 'driver.replica=2'], "additional properties 'replica' not allowed"],
    [['--set', 'kafka.sasl.mechanism=gssapi'], '/kafka/sasl/mechanism'],
    [['--set-json', 'networkPolicy.httpFrom=[{"namespaceSelector":{}}]'], 'networkPolicy.httpFrom needs networkPolicy.restrictHttp: true'],
    [
      ['--set', 'grpc.token.enabled=false', '--set', 'grpc.token.existingSecret=my-token'],
      'grpc.token.existingSecret is set but grpc.token.enabled is false',
    ],
  ])('refuses %j', (args, message) => {
    const r = helm(binary, ['template', 'sluice-test', chartDir, ...args]);
    expect([r.status, r.stderr]).toEqual([1, expect.stringContaining(message)]);
  });
});

/** The token volume, its mount and the environment variable of a Deployment; undefined where absent. */
const tokenWiring = (deployment: K8sObject): Json => ({
  env: envOf(deployment).SLUICE_GRPC_TOKEN_FILE,
  mount: container(deployment).volumeMounts.find((m: Json) => m.name === 'grpc-token'),
  volume: podSpec(deployment).volumes.find((v: Json) => v.name === 'grpc-token'),
});

const tokenOf = (secret: K8sObject, key = 'token'): string => Buffer.from(secret.data[key], 'base64').toString();

describe('Helm chart: secure by default (gRPC token, NetworkPolicies)', () => {
  it('generates one token Secret and gives it to drivers and executors as a file', () => {
    const objects = render(binary, ['ci/default-values.yaml']);
    const secret = find(objects, 'Secret', tokenSecretName);
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data)).toEqual(['token']);
    expect(tokenOf(secret)).toMatch(/^[A-Za-z0-9]{48}$/);
    for (const name of [driverName, executorName]) {
      expect([name, tokenWiring(find(objects, 'Deployment', name))]).toEqual([
        name,
        {
          env: tokenFile,
          mount: { name: 'grpc-token', mountPath: '/var/run/secrets/sluice/grpc-token', readOnly: true },
          volume: {
            name: 'grpc-token',
            secret: { secretName: tokenSecretName, defaultMode: 0o440, items: [{ key: 'token', path: 'token' }] },
          },
        },
      ]);
    }
    // Each fresh install gets a token of its own.
    expect(tokenOf(find(render(binary, ['ci/default-values.yaml']), 'Secret', tokenSecretName))).not.toBe(tokenOf(secret));
  });

  it('an upgrade keeps the token of the Secret already in the cluster', async () => {
    const existing = find(render(binary, ['ci/default-values.yaml']), 'Secret', tokenSecretName);
    const upgraded = await renderWithSecrets(binary, [existing]);
    expect(find(upgraded, 'Secret', tokenSecretName).data).toEqual(existing.data);
    // Without it (a first install against the same API), a new one.
    const installed = await renderWithSecrets(binary, []);
    expect(tokenOf(find(installed, 'Secret', tokenSecretName))).not.toBe(tokenOf(existing));
  });

  it('uses grpc.token.existingSecret instead of generating one, at the key named', () => {
    const objects = render(binary, [], ['--set', 'grpc.token.existingSecret=job-token', '--set', 'grpc.token.key=shared']);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const name of [driverName, executorName]) {
      const wiring = tokenWiring(find(objects, 'Deployment', name));
      expect([name, wiring.env, wiring.volume.secret.secretName, wiring.volume.secret.items]).toEqual([
        name,
        tokenFile,
        'job-token',
        [{ key: 'shared', path: 'token' }],
      ]);
    }
  });

  it('NetworkPolicies: gRPC ports only from the peer role, HTTP ports open; they follow the ports', () => {
    const objects = render(
      binary,
      [],
      ['--set', 'driver.grpcPort=9070', '--set', 'executor.grpcPort=9071', '--set', 'driver.httpPort=9040']
    );
    const driverPods = find(objects, 'Deployment', driverName).spec.selector.matchLabels;
    const executorPods = find(objects, 'Deployment', executorName).spec.selector.matchLabels;
    // gRPC from the peer role's pods only; HTTP (UI, JSON API, /metrics) from Prometheus, an ingress controller, a port-forward.
    const policy = (pods: Json, peerPods: Json, grpcPort: number, httpPort: number): Json => ({
      podSelector: { matchLabels: pods },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: peerPods } }], ports: [{ port: grpcPort, protocol: 'TCP' }] },
        { ports: [{ port: httpPort, protocol: 'TCP' }] },
      ],
    });
    expect(find(objects, 'NetworkPolicy', executorName).spec).toEqual(policy(executorPods, driverPods, 9071, 4041));
    expect(find(objects, 'NetworkPolicy', driverName).spec).toEqual(policy(driverPods, executorPods, 9070, 9040));
  });

  it('job.sourceMode=receiver starts both roles in receiver mode; an unknown mode is refused', () => {
    const objects = render(binary, [], ['--set', 'job.sourceMode=receiver']);
    for (const name of [driverName, executorName]) {
      const args = container(find(objects, 'Deployment', name)).args as string[];
      expect(args.slice(args.indexOf('--source-mode'))).toEqual(['--source-mode', 'receiver']);
    }
    expect(() => render(binary, [], ['--set', 'job.sourceMode=kinesis'])).toThrow(/sourceMode/);
  });

  it('opts out: grpc.token.enabled=false and networkPolicy.enabled=false remove them', () => {
    const objects = render(binary, [], ['--set', 'grpc.token.enabled=false', '--set', 'networkPolicy.enabled=false']);
    expect(objects.filter((o) => o.kind === 'Secret' || o.kind === 'NetworkPolicy')).toEqual([]);
    for (const name of [driverName, executorName]) {
      expect([name, tokenWiring(find(objects, 'Deployment', name))]).toEqual([
        name,
        { env: undefined, mount: undefined, volume: undefined },
      ]);
    }
  });

  it('TLS with the generated token: both roles get the certificates and the token', () => {
    const objects = render(binary, [], ['--set', 'grpc.tls.mode=tls', '--set', 'grpc.tls.existingSecret=grpc-certs']);
    find(objects, 'Secret', tokenSecretName);
    for (const name of [driverName, executorName]) {
      const deployment = find(objects, 'Deployment', name);
      expect([name, envOf(deployment).SLUICE_GRPC_TLS, tokenWiring(deployment).volume.secret.secretName]).toEqual([
        name,
        'tls',
        tokenSecretName,
      ]);
    }
  });
});

interface Started {
  name: string;
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
  /** Container port -> the local port standing for it. */
  ports: Map<number, number>;
}

describe('Helm chart: the rendered Deployments, run as local processes', () => {
  let client: Redis;
  const started: Started[] = [];
  let scratch: string;
  beforeAll(() => {
    client = redis();
    scratch = mkdtempSync(join(tmpdir(), 'sluice-chart-'));
  });
  afterAll(async () => {
    for (const p of started) p.child.kill('SIGKILL');
    await Promise.all(started.map((p) => p.exited));
    rmSync(scratch, { recursive: true, force: true });
    await client.quit();
  });

  it('runs a job exactly once with the command, args, environment and token of the manifests; the probes answer 200 where they point', async () => {
    const topic = uniqueName('chart');
    await createTopic(topic, 4);
    const values = Array.from({ length: 5000 }, (_, i) => `v${i}`);
    await produceValues(topic, values, 4);

    const overrides = [
      '--set-json',
      `kafka.brokers=${JSON.stringify(brokers().split(','))}`,
      '--set',
      `redis.url=${redisUrl()}`,
      '--set',
      'job.module=/app/examples/audit',
      '--set',
      `job.name=${topic}`,
      '--set-json',
      `config=${JSON.stringify({ job: { topics: [topic], batchIntervalMs: 200 } })}`,
      // A leader and a standby: both must pass their probes, or a rollout never settles.
      '--set',
      'driver.replicas=2',
    ];
    const objects = render(binary, ['ci/default-values.yaml'], overrides);

    // Service DNS name:port -> the local port of the container port the Service targets.
    const serviceTargets = new Map<string, { deployment: string; port: string }>();
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      for (const p of service.spec.ports)
        serviceTargets.set(`${service.metadata.name}:${p.port}`, { deployment: service.metadata.name, port: p.targetPort });
    }
    const startedOf = (deployment: string): Started => started.find((s) => s.name.startsWith(deployment)) as Started;

    const start = async (deployment: K8sObject, replica: number): Promise<Started> => {
      const spec = podSpec(deployment);
      const c = container(deployment);
      // Mounted ConfigMaps and rendered Secrets (the gRPC token) -> temporary files with their data.
      const files = new Map<string, string>();
      for (const mount of c.volumeMounts) {
        const volume = spec.volumes.find((v: Json) => v.name === mount.name);
        const source = volume.configMap
          ? { items: volume.configMap.items, data: find(objects, 'ConfigMap', volume.configMap.name).data }
          : volume.secret
            ? { items: volume.secret.items, data: find(objects, 'Secret', volume.secret.secretName).data, base64: true }
            : undefined;
        if (!source) continue;
        for (const item of source.items) {
          const local = join(scratch, `${deployment.metadata.name}-${replica}-${mount.name}-${item.path}`);
          writeFileSync(local, source.base64 ? Buffer.from(source.data[item.key], 'base64') : source.data[item.key]);
          files.set(`${mount.mountPath}/${item.path}`, local);
        }
      }
      const ports = new Map<number, number>();
      for (const p of c.ports) ports.set(p.containerPort, await freePort());
      const env: Record<string, string> = { PATH: process.env.PATH as string };
      for (const e of c.env) {
        let value: string;
        if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') value = '127.0.0.1';
        else if (e.valueFrom) throw new Error(`cannot resolve ${e.name} locally: ${JSON.stringify(e.valueFrom)}`);
        else value = files.get(e.value) ?? e.value;
        // A Service address -> loopback and the local port of the (first) process behind it.
        const target = serviceTargets.get(value);
        if (target) {
          const behind = startedOf(target.deployment);
          const containerPort = portOf(find(objects, 'Deployment', target.deployment), target.port);
          value = `127.0.0.1:${behind.ports.get(containerPort)}`;
        }
        // A container port -> its local stand-in; every interface -> loopback (a shared machine).
        if (/_PORT$/.test(e.name) && ports.has(Number(value))) value = String(ports.get(Number(value)));
        if (value === '0.0.0.0') value = '127.0.0.1';
        env[e.name] = value;
      }
      expect(c.command).toEqual(['sluice']);
      // The image's /app is this repository's layout (test/integration/image.test.ts); sluice is its CLI.
      const args = (c.args as string[]).map((a) => files.get(a) ?? a.replace(/^\/app\//, `${repoRoot}/`));
      const child = spawn(process.execPath, [join(repoRoot, 'packages', 'cli', 'dist', 'main.js'), ...args], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p: Started = {
        name: `${deployment.metadata.name}-${replica}`,
        child,
        output: '',
        exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
        ports,
      };
      child.stdout?.on('data', (b: Buffer) => (p.output += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (p.output += b.toString()));
      started.push(p);
      return p;
    };

    const driver = find(objects, 'Deployment', driverName);
    const executor = find(objects, 'Deployment', executorName);
    // Drivers first: the executors' SLUICE_EXECUTOR_DRIVER points at the driver Service.
    for (let i = 0; i < driver.spec.replicas; i++) await start(driver, i);
    for (let i = 0; i < executor.spec.replicas; i++) await start(executor, i);
    expect(started.map((s) => s.name)).toEqual([`${driverName}-0`, `${driverName}-1`, `${executorName}-0`, `${executorName}-1`]);

    await waitFor(
      async () => {
        for (const p of started)
          if (p.child.exitCode !== null) throw new Error(`${p.name} exited ${p.child.exitCode}:\n${p.output.slice(-3000)}`);
        const counts = await auditCounts(client, topic);
        return counts.size === values.length && [...counts.values()].reduce((a, b) => a + b, 0) >= values.length;
      },
      { timeoutMs: 90_000, label: 'every value counted' }
    );
    assertExactlyOnce(await auditCounts(client, topic), values);

    // Every probe of every container answers 200 on the port the manifest names.
    for (const p of started) {
      const c = container(p.name.startsWith(driverName) ? driver : executor);
      for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const { path, port } = c[kind].httpGet;
        const local = p.ports.get(typeof port === 'number' ? port : c.ports.find((x: Json) => x.name === port).containerPort);
        const status = await waitFor(
          async () => {
            const res = await fetch(`http://127.0.0.1:${local}${path}`);
            return res.status === 200 ? res.status : undefined;
          },
          { timeoutMs: 10_000, label: `${p.name} ${kind} ${path}` }
        );
        expect([p.name, kind, status]).toEqual([p.name, kind, 200]);
      }
    }

    // SIGTERM to every pod at once, as `helm uninstall` does: each exits 0 within its grace period.
    for (const p of started) p.child.kill('SIGTERM');
    const codes = await Promise.all(
      started.map((p) => {
        const grace = podSpec(p.name.startsWith(driverName) ? driver : executor).terminationGracePeriodSeconds as number;
        return Promise.race([
          p.exited,
          new Promise((resolve) => setTimeout(() => resolve(`still running after ${grace} s`), grace * 1000).unref()),
        ]);
      })
    );
    // A process that did not exit 0 shows the end of its output.
    const outcome = (p: Started, code: unknown): unknown[] => [p.name, code, code === 0 ? '' : p.output.slice(-4000)];
    expect(started.map((p, i) => outcome(p, codes[i]))).toEqual(started.map((p) => outcome(p, 0)));
  });
});
