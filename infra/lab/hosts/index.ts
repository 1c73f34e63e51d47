import type { Fleet, FleetOptions, LabHostState } from '../contract';

// The lab's backend instances. This first version only reports the instances so the core can wire
// the fleet; the processes, Run Command and the agents follow.

export function createFleet(options: FleetOptions): Fleet {
  const hosts: LabHostState[] = options.instances.map((i) => ({
    id: i.id,
    name: i.name,
    privateIp: i.privateIp,
    healthUrl: '',
    state: 'running',
    container: {
      name: 'linkbox-backend',
      status: 'created',
      startedAt: null,
      finishedAt: null,
      restartCount: 0,
      image: 'linkbox-backend:latest',
      exitCode: null,
      error: null,
    },
  }));
  return {
    async start() {},
    async stop() {},
    hosts: () => hosts.map((h) => ({ ...h, container: { ...h.container } })),
    localBackendUrl: () => `http://127.0.0.1:${options.local.port || 8000}`,
    interceptor: async () => undefined,
  };
}
