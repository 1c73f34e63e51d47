import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Fleet, FleetOptions, LabHostState } from '../contract';
import { Container } from './container';
import { readInstanceStates } from './ec2-state';
import type { LabHost } from './host';
import { createRunCommand } from './run-command';

// The lab's backend instances: one backend process per instance (plus the local backend), their
// containers' docker-like state, the faults that crash or sicken them, and Run Command.

export { createIamSimulator } from './iam';

/** How often the hosts follow EC2 (a stopped instance takes its container and agent down). */
const EC2_SYNC_MS = 3000;

export function createFleet(options: FleetOptions): Fleet {
  const hosts: LabHost[] = [];
  let local: Container | undefined;
  let localPort = options.local.port;
  let ec2Timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let reconciling: Promise<void> = Promise.resolve();

  const runCommand = createRunCommand({
    region: options.region,
    hosts: () => hosts,
    dbRoute: options.dbRoute,
    refreshInstanceStates: () => syncEc2(),
    log: options.log,
  });

  async function syncEc2(): Promise<void> {
    if (!options.motoEndpoint || stopped) return;
    let states: Map<string, string>;
    try {
      states = await readInstanceStates(options.motoEndpoint, options.region, hosts.map((h) => h.id));
    } catch {
      return; // moto busy or going away: keep the last known states
    }
    for (const host of hosts) {
      const state = states.get(host.id) ?? 'terminated';
      if (state === host.ec2State) continue;
      const wasRunning = host.ec2State === 'running';
      host.ec2State = state;
      options.log(`[${host.id}] EC2 instance is ${state}`);
      if (wasRunning && state !== 'running') {
        host.agentPingAt = new Date();
        await host.container.powerOff();
      } else if (state === 'running') {
        host.agentStartedAt = new Date();
        // The container comes back with the machine, as docker's restart policy brings it back on boot.
        if (options.faults.containerFault(host.id) !== 'crashed') await host.container.powerOn();
      }
    }
  }

  function reconcileFaults(): void {
    reconciling = reconciling.then(async () => {
      if (stopped) return;
      for (const host of hosts) {
        const fault = options.faults.containerFault(host.id);
        host.container.setUnhealthy(fault === 'unhealthy');
        if (fault === 'crashed') await host.container.crash();
        else if (host.ec2State === 'running') await host.container.recoverFromCrash();
      }
    });
  }

  return {
    async start() {
      const ports = await Promise.all(options.instances.map(() => freePort()));
      if (localPort === 0) localPort = await freePort();
      options.instances.forEach((instance, i) => {
        const container = new Container({
          hostId: instance.id,
          port: ports[i]!,
          startConfig: {
            awsEndpoint: options.awsEndpoint,
            region: options.region,
            parameterPrefix: instance.parameterPrefix,
            rdsEndpointAddress: instance.rdsEndpointAddress,
            dbRoute: options.dbRoute(instance.id),
          },
          log: options.log,
        });
        hosts.push({
          ...instance,
          container,
          ec2State: 'running',
          agentStartedAt: new Date(),
          agentPingAt: new Date(),
          afterContainerStart: async () => {
            const fault = options.faults.containerFault(instance.id);
            container.setUnhealthy(fault === 'unhealthy');
            if (fault === 'crashed') await container.crash();
          },
        });
      });
      local = new Container({
        hostId: 'local',
        port: localPort,
        // It never reads SSM: its DATABASE_URL is the .env's or the default.
        startConfig: { awsEndpoint: options.awsEndpoint, region: options.region, parameterPrefix: '', rdsEndpointAddress: '' },
        fixedDatabaseUrl: () => localDatabaseUrl(options.local.envFile, options.local.defaultDatabaseUrl),
        log: options.log,
      });
      options.faults.onChange(reconcileFaults);
      await syncEc2();
      await Promise.all([
        ...hosts.map(async (host) => {
          if (host.ec2State !== 'running') return;
          const outcome = await host.container.run();
          if (outcome.ok) options.log(`[${host.id}] linkbox-backend up, /health on 127.0.0.1:${host.container.port}`);
        }),
        local.run(),
      ]);
      reconcileFaults();
      if (options.motoEndpoint) {
        ec2Timer = setInterval(() => void syncEc2(), EC2_SYNC_MS);
        ec2Timer.unref();
      }
    },

    async stop() {
      stopped = true;
      clearInterval(ec2Timer);
      runCommand.stop();
      await reconciling.catch(() => undefined);
      await Promise.all([...hosts.map((h) => h.container.shutdown()), local?.shutdown()]);
    },

    hosts(): LabHostState[] {
      return hosts.map((host) => {
        const { id: _id, createdAt: _createdAt, exists: _exists, ...container } = host.container.inspect();
        return {
          id: host.id,
          name: host.name,
          privateIp: host.privateIp,
          healthUrl: `http://127.0.0.1:${host.container.port}/health`,
          state: host.ec2State,
          container,
        };
      });
    },

    localBackendUrl: () => `http://127.0.0.1:${localPort || 8000}`,

    interceptor: runCommand.interceptor,

    runCommandHistory: () => runCommand.history(),
  };
}

/** What the backend's Pydantic settings would read: DATABASE_URL from the .env file if it sets one. */
export function localDatabaseUrl(envFile: string, defaultUrl: string): string {
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch {
    return defaultUrl;
  }
  let found: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?DATABASE_URL\s*=\s*(.*?)\s*$/.exec(raw);
    if (!match) continue;
    let value = match[1]!;
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    found = value;
  }
  return found || defaultUrl;
}

/** A port the kernel just handed out; each instance keeps it for the lab's life so healthUrl is stable. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
