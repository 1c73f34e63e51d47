import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { consoleConfigSchema, type ConsoleConfig } from '../../lib/config/schema';
import type { ConsoleRoleState, Fleet, Lab, LabOptions, LabState } from './contract';
import { createRequestCounters } from './gateway/counters';
import { createRevokeByWhatItAdmits } from './gateway/ec2-revoke';
import { createFaultStore } from './gateway/faults';
import { startGateway, type Gateway } from './gateway/server';
import { startWatchdog } from './watchdog';
import { createFleet, createIamSimulator } from './hosts/index';
import { CONSOLE_ACCESS_KEY_ID, createConsoleRole } from './iam/console-role';
import { createIamEnforcer } from './iam/enforcer';
import { startMoto, type Moto } from './moto';
import { startDbNetwork, TUNNEL, type DbNetwork } from './network/db-network';
import { LAB_OIDC_ACCOUNTS, LAB_OIDC_ROLE_GROUPS } from './oidc/accounts';
import { startIdentityProvider, type IdentityProvider } from './oidc/provider';
import { chooseLoopbackEndpoint, reportEndpoint } from './network/rds-endpoint';
import { assertPortFree } from './ports';
import { generateUrlSafePassword, startPostgres } from './postgres';
import { createRdsPhysics, type RdsPhysics } from './rds-physics';
import { BACKEND_NAME, BACKEND_PROFILE, BACKEND_ROLE, BACKEND_SG_NAME, DB_PORT, DB_SG_NAME, PARAMETER_PREFIX, RDS_INSTANCE_ID, SEED_CREDENTIALS, seedLinkBox } from './seed';
import { createCertificateAuthority, issueServerCertificate } from './tls';

// The lab: LinkBox's AWS on one machine. A Node program (tsx), never part of the Next bundle, which
// is why its modules do not import 'server-only' (that marker throws outside React's server build).

export type { ConsoleRoleOptions, ConsoleRoleState, Lab, LabOidcOptions, LabOidcState, LabOptions, LabState } from './contract';
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
    // the master password is chosen first so both can use it.
    const masterPassword = generateUrlSafePassword();
    const postgresStarting = startPostgres({ dataDir, masterPassword, log }).then((pg) => {
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
    const rdsEndpoint = await chooseLoopbackEndpoint(DB_PORT);
    const endpointReport = reportEndpoint(RDS_INSTANCE_ID, rdsEndpoint);
    gateway.rewrite(endpointReport);

    const tlsDir = join(dataDir, 'tls');
    const [world, postgres, ca] = await Promise.all([
      seedLinkBox({ endpoint: gateway.url, region: options.region, masterPassword }),
      postgresStarting,
      createCertificateAuthority(tlsDir, 'ca', `LinkBox lab CA ${randomBytes(3).toString('hex')}`),
    ]);
    log(`PostgreSQL on 127.0.0.1:${postgres.port}`);
    log(`seeded linkbox-db, ${world.instances.length} backend instances and ${PARAMETER_PREFIX}/*`);
    let consoleRole: ConsoleRoleState | null = null;

    // PostgreSQL serves TLS as RDS does, with a certificate for both names of the endpoint.
    const dnsName = endpointReport.motoAddress();
    if (!dnsName) throw new Error('moto created linkbox-db without an endpoint name');
    const serverCertificate = await issueServerCertificate(ca, tlsDir, 'server', [rdsEndpoint.host, dnsName]);
    await postgres.enableTls({ ...serverCertificate, caPath: ca.certPath, serverName: dnsName });
    log(`RDS endpoint ${rdsEndpoint.host}:${rdsEndpoint.port} (${dnsName}), TLS from the lab CA ${ca.certPath}`);

    const network: DbNetwork = await startDbNetwork({
      motoUrl: moto.url,
      region: options.region,
      rdsInstanceId: world.rds.instanceId,
      upstream: { host: postgres.host, port: postgres.port },
      instanceIds: world.instances.map((i) => i.id),
      console: { endpoint: rdsEndpoint, securityGroupIds: [world.vpc.consoleSecurityGroupId] },
      syncIntervalMs: options.syncIntervalMs,
      log,
    });
    stack.push({ what: 'DB network', stop: () => network.stop() });

    const physics: RdsPhysics = createRdsPhysics({
      rdsInstanceId: world.rds.instanceId,
      masterUsername: world.rds.masterUsername,
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
      parameterPrefix: PARAMETER_PREFIX,
      instances: world.instances,
      dbRoute: (sourceId) => network.route(sourceId),
      rdsEndpointAddress: world.rds.endpointAddress,
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

    const tunnel = network.route(TUNNEL);
    const configPath = join(dataDir, 'console.config.json');
    const instances = () =>
      activeFleet.hosts().map((host) => ({ ...host, subnetId: world.instances.find((i) => i.id === host.id)!.subnetId, dbRoute: network.route(host.id) }));
    const { networkInterfaceId: _eni, ...rds } = world.rds;
    const snapshot = (): LabState => ({
      awsEndpoint: gateway.url,
      region: options.region,
      db: tunnel,
      rds: { ...rds, dnsName },
      vpc: world.vpc,
      rdsEndpoint,
      tlsCaPath: ca.certPath,
      tlsCaKeyPath: ca.keyPath,
      parameterPrefix: PARAMETER_PREFIX,
      instances: instances(),
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
        return instances();
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
      {
        name: 'production',
        kind: 'aws',
        region: state.region,
        credentials: state.iam.consoleRole
          ? { source: 'assume-role', roleArn: state.iam.consoleRole.roleArn, sessionName: state.iam.consoleRole.sessionName, ...(state.iam.consoleRole.externalId ? { externalId: state.iam.consoleRole.externalId } : {}) }
          : { source: 'lab' },
        endpoint: state.awsEndpoint,
        parameterPrefix: state.parameterPrefix,
        rdsInstanceId: state.rds.instanceId,
        dbSecurityGroup: { tags: { Name: DB_SG_NAME } },
        backendSecurityGroup: { tags: { Name: BACKEND_SG_NAME } },
        backendInstances: { tags: { Name: BACKEND_NAME } },
        dbPort: state.rds.port,
        health: { port: 80, path: '/health', urls: Object.fromEntries(state.instances.filter((i) => i.healthUrl).map((i) => [i.id, i.healthUrl])) },
        reachVia: state.db,
        // So every login the console makes to the lab verifies the lab CA's certificate, as in AWS.
        dbCaBundle: state.tlsCaPath,
        backendIam: { instanceProfileName: BACKEND_PROFILE, roleName: BACKEND_ROLE },
      },
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
