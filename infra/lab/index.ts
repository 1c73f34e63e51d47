import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { consoleConfigSchema, type ConsoleConfig } from '../../lib/config/schema';
import type { ConsoleRoleState, Fleet, Lab, LabEnvironmentState, LabOptions, LabState } from './contract';
import { createRequestCounters } from './gateway/counters';
import { createRevokeByWhatItAdmits } from './gateway/ec2-revoke';
import { createFaultStore } from './gateway/faults';
import { startGateway, type Gateway } from './gateway/server';
import { startWatchdog } from './watchdog';
import { createFleet, createIamSimulator } from './hosts/index';
import { CONSOLE_ACCESS_KEY_ID, createConsoleRole } from './iam/console-role';
import { createIamEnforcer } from './iam/enforcer';
import { startMoto, type Moto } from './moto';
import { startDbNetwork, type DbNetwork } from './network/db-network';
import { LAB_OIDC_ACCOUNTS, LAB_OIDC_ROLE_GROUPS } from './oidc/accounts';
import { startIdentityProvider, type IdentityProvider } from './oidc/provider';
import { chooseLoopbackEndpoint, reportEndpoints, type Endpoint } from './network/rds-endpoint';
import { assertPortFree } from './ports';
import { generateUrlSafePassword, startPostgres } from './postgres';
import { createRdsPhysics, type RdsPhysics } from './rds-physics';
import { BACKEND_PROFILE, BACKEND_ROLE, BACKEND_SG_NAME, DB_PORT, DB_SG_NAME, linkBoxEnvironments, SEED_CREDENTIALS, seedLinkBox, type SeededEnvironment } from './seed';
import { createCertificateAuthority, issueServerCertificate } from './tls';

// The lab: LinkBox's AWS on one machine. A Node program (tsx), never part of the Next bundle, which
// is why its modules do not import 'server-only' (that marker throws outside React's server build).

export type { ConsoleRoleOptions, ConsoleRoleState, Lab, LabEnvironmentState, LabOidcOptions, LabOidcState, LabOptions, LabState } from './contract';
export { deployStack, type DeployedStack, type StackDeployment } from './cloudformation';
export { MotoNotInstalledError } from './moto';
export { LabOidcSettingError } from './oidc/provider';
export { PortInUseError } from './ports';

export const DEFAULT_LAB_OPTIONS: LabOptions = {
  gatewayPort: 4566,
  localBackendPort: 8000,
  dataDir: '.lab',
  region: 'us-east-1',
  resetSeconds: 4,
  environments: 1,
  syncIntervalMs: 1000,
  log: (line) => console.log(line),
  enforceIam: true,
};

/** The identity provider's port beside the default gateway port; elsewhere the kernel picks one. */
export const DEFAULT_OIDC_PORT = 4567;

/** The seed's docker-compose default, as backend/app/core/config.py has it. */
const LOCAL_DEFAULT_DATABASE_URL = 'postgresql://linkbox_user:linkbox_password@localhost:5432/linkbox_dev';
/** Files and folders of a previous run that start-up wipes (never the whole data dir: tests keep theirs in it). */
const RUN_FILES = ['postgres', 'local', 'tls', 'console.config.json', 'moto.log', 'postgres.log'];

export async function startLab(overrides: Partial<LabOptions> = {}): Promise<Lab> {
  const options: LabOptions = { ...DEFAULT_LAB_OPTIONS, ...overrides };
  const dataDir = resolve(options.dataDir);
  const log = options.log;
  const started = Date.now();

  const plans = linkBoxEnvironments(options.environments);
  // Ports first: a taken port should fail before anything is spawned.
  await assertPortFree(options.gatewayPort, 'LAB_GATEWAY_PORT');
  await assertPortFree(options.localBackendPort, 'LAB_LOCAL_BACKEND_PORT');
  const oidcPort = options.oidc?.port ?? (options.gatewayPort === DEFAULT_LAB_OPTIONS.gatewayPort ? DEFAULT_OIDC_PORT : 0);
  await assertPortFree(oidcPort, 'LAB_OIDC_PORT');

  await mkdir(dataDir, { recursive: true });
  const release = await claimDataDir(dataDir);
  for (const name of RUN_FILES) await rm(join(dataDir, name), { recursive: true, force: true });

  const stack: Array<{ what: string; stop: () => Promise<void> | void }> = [{ what: 'data dir claim', stop: release }];
  const stopAll = async () => {
    while (stack.length > 0) {
      const { what, stop } = stack.pop()!;
      try {
        await stop();
      } catch (err) {
        log(`stopping ${what} failed: ${(err as Error).message}`);
      }
    }
  };
  // A process that ends without stop() (an uncaught error, process.exit) still kills what it spawned.
  const pids: number[] = [];
  const onExit = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', onExit);
  stack.push({ what: 'exit hook', stop: () => void process.removeListener('exit', onExit) });
  // And one killed outright (SIGKILL, a test runner's teardown) has them stopped by the watchdog.
  const watchdog = startWatchdog();
  stack.push({ what: 'watchdog', stop: () => watchdog.stop() });

  try {
    // In the lab's own process: a killed lab takes it along, so the watchdog has nothing to stop.
    const idp: IdentityProvider = await startIdentityProvider({ ...options.oidc, port: oidcPort, portSetting: 'LAB_OIDC_PORT', log });
    stack.push({ what: 'identity provider', stop: () => idp.stop() });

    // moto and PostgreSQL start side by side, and the seed runs while PostgreSQL initialises:
    // each environment's master password is chosen first so both can use it.
    const environments = plans.map((plan) => ({ ...plan, masterPassword: generateUrlSafePassword() }));
    const masters = environments.map((e) => ({ username: e.masterUsername, password: e.masterPassword, database: e.dbName }));
    const postgresStarting = startPostgres({ dataDir, masters, log }).then((pg) => {
      if (pg.pid) watchdog.watch(pg.pid, 'SIGINT', pg.databaseDir);
      return pg;
    });
    // If something else fails first, PostgreSQL is still stopped once it is up.
    stack.push({ what: 'PostgreSQL', stop: async () => (await postgresStarting.catch(() => undefined))?.stop() });
    postgresStarting.catch(() => undefined);

    const moto: Moto = await startMoto({ dataDir, log });
    pids.push(moto.pid);
    watchdog.watch(moto.pid, 'SIGTERM', `-p ${moto.port}`);
    stack.push({ what: 'moto', stop: () => moto.stop() });
    log(`moto on ${moto.url}`);

    const faults = createFaultStore();
    const counters = createRequestCounters();
    const iam = createIamEnforcer({ motoUrl: moto.url, enforce: options.enforceIam, counters, log });
    stack.push({ what: 'IAM enforcement', stop: () => iam.stop() });
    // Filled in once the hosts exist and the lab is ready; the control API reads them live.
    const late: { fleet?: Fleet; state?: () => LabState } = {};
    const gateway: Gateway = await startGateway({
      port: options.gatewayPort,
      portSetting: 'LAB_GATEWAY_PORT',
      motoUrl: moto.url,
      region: options.region,
      faults,
      counters,
      state: () => late.state?.(),
      instanceIds: () => late.fleet?.hosts().map((h) => h.id) ?? [],
      runCommandHistory: () => late.fleet?.runCommandHistory() ?? [],
      log,
      authorize: (call) => iam.authorize(call),
    });
    stack.push({ what: 'gateway', stop: () => gateway.stop() });
    // First: it records AssumeRole sessions and sees IAM changes before any other behaviour.
    gateway.use(iam.handler);

    // RDS reports the address the DB network will listen on, from the seed's first call on, so
    // SSM db-endpoint (written by the seed from CreateDBInstance's answer) is that address too.
    // Each instance has an address of its own, though one PostgreSQL serves them all.
    const endpoints = new Map<string, Endpoint>();
    for (const e of environments) endpoints.set(e.rdsInstanceId, await chooseLoopbackEndpoint(DB_PORT, [...endpoints.values()]));
    const endpointReport = reportEndpoints(endpoints);
    gateway.rewrite(endpointReport);

    const tlsDir = join(dataDir, 'tls');
    const [world, postgres, ca] = await Promise.all([
      seedLinkBox({ endpoint: gateway.url, region: options.region, environments }),
      postgresStarting,
      createCertificateAuthority(tlsDir, 'ca', `LinkBox lab CA ${randomBytes(3).toString('hex')}`),
    ]);
    const [first, ...others] = world.environments as [SeededEnvironment, ...SeededEnvironment[]];
    const rdsEndpoint = endpoints.get(first.rds.instanceId)!;
    log(`PostgreSQL on 127.0.0.1:${postgres.port}`);
    log(`seeded ${first.rds.instanceId}, ${first.instances.length} backend instances and ${first.environment.parameterPrefix}/*`);
    if (others.length > 0) log(`seeded ${others.length} more environments, one backend each: ${others.map((e) => `${e.environment.name} (${e.environment.parameterPrefix})`).join(', ')}`);
    let consoleRole: ConsoleRoleState | null = null;

    // PostgreSQL serves TLS as RDS does, with one certificate for both names of every endpoint.
    const dnsNames = new Map(
      world.environments.map(({ rds: { instanceId } }) => {
        const name = endpointReport.motoAddress(instanceId);
        if (!name) throw new Error(`moto created ${instanceId} without an endpoint name`);
        return [instanceId, name];
      }),
    );
    const dnsName = dnsNames.get(first.rds.instanceId)!;
    const serverCertificate = await issueServerCertificate(ca, tlsDir, 'server', [...[...endpoints.values()].map((e) => e.host), ...dnsNames.values()]);
    await postgres.enableTls({ ...serverCertificate, caPath: ca.certPath, serverName: dnsName });
    log(`RDS endpoint ${rdsEndpoint.host}:${rdsEndpoint.port} (${dnsName}), TLS from the lab CA ${ca.certPath}`);

    const network: DbNetwork = await startDbNetwork({
      motoUrl: moto.url,
      region: options.region,
      databases: world.environments.map((e) => ({
        rdsInstanceId: e.rds.instanceId,
        endpoint: endpoints.get(e.rds.instanceId)!,
        networkInterfaceId: e.rds.networkInterfaceId,
        instanceIds: e.instances.map((i) => i.id),
      })),
      upstream: { host: postgres.host, port: postgres.port },
      console: { securityGroupIds: [world.vpc.consoleSecurityGroupId] },
      syncIntervalMs: options.syncIntervalMs,
      log,
    });
    stack.push({ what: 'DB network', stop: () => network.stop() });

    const physics: RdsPhysics = createRdsPhysics({
      masterUsernames: new Map(world.environments.map((e) => [e.rds.instanceId, e.rds.masterUsername])),
      resetSeconds: options.resetSeconds,
      postgres,
      network,
      motoUrl: moto.url,
      region: options.region,
      log,
    });
    stack.push({ what: 'RDS physics', stop: () => physics.stop() });
    gateway.use(physics.handler);
    const revoke = createRevokeByWhatItAdmits(moto.url, options.region);
    stack.push({ what: 'EC2 revoke', stop: () => revoke.stop() });
    gateway.use(revoke.handler);

    const envFile = join(dataDir, 'local', '.env');
    await mkdir(join(dataDir, 'local'), { recursive: true });
    await writeFile(envFile, `DATABASE_URL=${postgres.localDatabaseUrl}\n`, { mode: 0o600 });

    const activeFleet = createFleet({
      awsEndpoint: gateway.url,
      region: options.region,
      instances: world.environments.flatMap((e) => e.instances.map((i) => ({ ...i, parameterPrefix: e.environment.parameterPrefix, rdsEndpointAddress: e.rds.endpointAddress }))),
      dbRoute: (sourceId) => network.route(sourceId),
      faults,
      local: { port: options.localBackendPort, envFile, defaultDatabaseUrl: LOCAL_DEFAULT_DATABASE_URL },
      dataDir,
      log,
      motoEndpoint: moto.url,
    });
    late.fleet = activeFleet;
    gateway.use((call) => activeFleet.interceptor(call));
    const iamSimulator = createIamSimulator({ motoEndpoint: moto.url });
    gateway.use((call) => iamSimulator(call));
    // Registered before start: a start that fails half-way still stops the hosts it started.
    stack.push({ what: 'backend hosts', stop: () => activeFleet.stop() });
    // The interceptor is in place before the hosts start: their first act is reading SSM.
    await activeFleet.start();

    const configPath = join(dataDir, 'console.config.json');
    const instancesOf = (seeded: SeededEnvironment) => {
      const hosts = activeFleet.hosts();
      return seeded.instances.map(({ id, subnetId }) => ({ ...hosts.find((h) => h.id === id)!, subnetId, dbRoute: network.route(id) }));
    };
    const environmentState = (seeded: SeededEnvironment): LabEnvironmentState => {
      const { networkInterfaceId: _eni, ...rds } = seeded.rds;
      return {
        name: seeded.environment.name,
        parameterPrefix: seeded.environment.parameterPrefix,
        rds: { ...rds, dnsName: dnsNames.get(rds.instanceId)! },
        rdsEndpoint: endpoints.get(rds.instanceId)!,
        db: network.tunnel(rds.instanceId),
        backendName: seeded.environment.backendName,
        instances: instancesOf(seeded),
      };
    };
    const environmentStates = () => world.environments.map(environmentState);
    const snapshot = (): LabState => ({
      awsEndpoint: gateway.url,
      region: options.region,
      db: network.tunnel(first.rds.instanceId),
      rds: environmentState(first).rds,
      vpc: world.vpc,
      rdsEndpoint,
      tlsCaPath: ca.certPath,
      tlsCaKeyPath: ca.keyPath,
      parameterPrefix: first.environment.parameterPrefix,
      instances: instancesOf(first),
      environments: environmentStates(),
      local: { databaseUrl: postgres.localDatabaseUrl, backendUrl: activeFleet.localBackendUrl(), envFile },
      configPath,
      oidc: idp.state(),
      iam: { ...iam.state(), consoleRole },
    });
    if (options.consoleRole) {
      // Its policy may be made from the config the console will read (the catalogue's), so the role comes last.
      const { policyDocument } = options.consoleRole;
      const role = {
        ...options.consoleRole,
        policyDocument: typeof policyDocument === 'function' ? policyDocument(checkedConsoleConfig(consoleConfigFor(snapshot())), { accountId: world.accountId }) : policyDocument,
      };
      consoleRole = await createConsoleRole({ endpoint: gateway.url, region: options.region, accountId: world.accountId, credentials: SEED_CREDENTIALS, role });
      iam.bind(CONSOLE_ACCESS_KEY_ID, consoleRole.sourcePrincipalArn);
      log(`the console runs as ${consoleRole.roleArn}: ${CONSOLE_ACCESS_KEY_ID} may only assume it`);
    }
    const consoleConfig = consoleConfigFor(snapshot());
    checkedConsoleConfig(consoleConfig);
    await writeFile(configPath, `${JSON.stringify(consoleConfig, null, 2)}\n`);
    // The seed's own calls are not anyone's traffic: counting starts with the lab ready.
    counters.reset();
    late.state = snapshot;
    log(`lab ready in ${((Date.now() - started) / 1000).toFixed(1)} s: AWS endpoint ${gateway.url}`);

    let stopping: Promise<void> | undefined;
    const lab: Lab = {
      ...snapshot(),
      get instances() {
        return instancesOf(first);
      },
      get environments() {
        return environmentStates();
      },
      networkSynced: () => network.synced(),
      stop: () => (stopping ??= stopAll().then(() => log('lab stopped'))),
    };
    return lab;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The console config the lab writes, as written (defaults left to the schema). */
function consoleConfigFor(state: LabState): object {
  const config = {
    mode: 'lab',
    environments: [
      // One AWS scope (region, endpoint, credentials) for all: the environments of one account.
      ...state.environments.map((env) => ({
        name: env.name,
        kind: 'aws',
        region: state.region,
        credentials: state.iam.consoleRole
          ? { source: 'assume-role', roleArn: state.iam.consoleRole.roleArn, sessionName: state.iam.consoleRole.sessionName, ...(state.iam.consoleRole.externalId ? { externalId: state.iam.consoleRole.externalId } : {}) }
          : { source: 'lab' },
        endpoint: state.awsEndpoint,
        parameterPrefix: env.parameterPrefix,
        rdsInstanceId: env.rds.instanceId,
        dbSecurityGroup: { tags: { Name: DB_SG_NAME } },
        backendSecurityGroup: { tags: { Name: BACKEND_SG_NAME } },
        backendInstances: { tags: { Name: env.backendName } },
        dbPort: env.rds.port,
        health: { port: 80, path: '/health', urls: Object.fromEntries(env.instances.filter((i) => i.healthUrl).map((i) => [i.id, i.healthUrl])) },
        reachVia: env.db,
        // So every login the console makes to the lab verifies the lab CA's certificate, as in AWS.
        dbCaBundle: state.tlsCaPath,
        backendIam: { instanceProfileName: BACKEND_PROFILE, roleName: BACKEND_ROLE },
      })),
      { name: 'local', kind: 'local', envFile: state.local.envFile, backendUrl: state.local.backendUrl },
    ],
    // The lab accounts by email and the IdP's groups, as a real deployment maps them. The unverified
    // IdP account is listed by email too: only a console that ignores email_verified lets it in.
    // The console asks the lab's identity provider for its groups claim, as a deployment asks its IdP.
    signIn: { groupsClaim: state.oidc.groupsClaim, groupsScope: state.oidc.groupsScope },
    roles: {
      viewer: [...emailsFor('viewer'), `group:${LAB_OIDC_ROLE_GROUPS.viewer}`],
      operator: [...emailsFor('operator'), `group:${LAB_OIDC_ROLE_GROUPS.operator}`],
      admin: [...emailsFor('admin'), `group:${LAB_OIDC_ROLE_GROUPS.admin}`],
    },
  };
  return config;
}

function checkedConsoleConfig(config: object): ConsoleConfig {
  const checked = consoleConfigSchema.safeParse(config);
  if (!checked.success) {
    throw new Error(`the lab built a console config that does not validate: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return checked.data;
}

function emailsFor(role: 'viewer' | 'operator' | 'admin'): string[] {
  return LAB_OIDC_ACCOUNTS.filter((a) => a.role === role).map((a) => a.email);
}

/**
 * One lab per data dir: a second one would wipe the first one's PostgreSQL. A claim left by a lab
 * that died is taken over.
 */
async function claimDataDir(dataDir: string): Promise<() => Promise<void>> {
  const claimFile = join(dataDir, 'lab.pid');
  if (existsSync(claimFile)) {
    const pid = Number.parseInt(readFileSync(claimFile, 'utf8'), 10);
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
      throw new Error(`another lab (pid ${pid}) is running with the data dir ${dataDir}; stop it or set LAB_DATA_DIR`);
    }
  }
  const token = randomBytes(4).toString('hex');
  await writeFile(claimFile, `${process.pid}\n${token}\n`);
  return async () => {
    try {
      if (readFileSync(claimFile, 'utf8').includes(token)) await rm(claimFile, { force: true });
    } catch {
      // already gone
    }
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
