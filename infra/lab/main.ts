// `npm run lab`: the LinkBox lab in the foreground until Ctrl-C or SIGTERM, which stop everything
// it started (moto, PostgreSQL, the backend hosts, the identity provider) and exit 0.
import { labOptionsFromEnv, LabSettingError } from './env';
import { LabOidcSettingError, startLab, type Lab } from './index';

async function main(): Promise<void> {
  let options: ReturnType<typeof labOptionsFromEnv>;
  try {
    options = labOptionsFromEnv((line) => console.log(`[lab] ${line}`));
  } catch (err) {
    if (!(err instanceof LabSettingError)) throw err;
    console.error(err.message);
    process.exit(2);
  }

  let lab: Lab | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting without waiting for the lab to stop`);
      process.exit(1);
    }
    stopping = true;
    if (!lab) {
      console.log(`${signal}: stopping as soon as the lab has finished starting...`);
      return;
    }
    console.log(`${signal}: stopping the lab...`);
    await lab.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  try {
    lab = await startLab(options);
  } catch (err) {
    // MotoNotInstalledError, PortInUseError and LabOidcSettingError already say what to do; others say what broke.
    console.error(`The lab did not start: ${(err as Error).message}`);
    process.exit(err instanceof LabOidcSettingError ? 2 : 1);
  }
  if (stopping) {
    await lab.stop();
    process.exit(0);
  }

  const aws = `aws --endpoint-url ${lab.awsEndpoint} --region ${lab.region}`;
  console.log('');
  console.log('LinkBox lab is running.');
  console.log(`  AWS endpoint     ${lab.awsEndpoint}   (e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing ${aws} ssm get-parameter --name ${lab.parameterPrefix}/db-endpoint)`);
  console.log(`  RDS endpoint     ${lab.rdsEndpoint.host}:${lab.rdsEndpoint.port} (${lab.rds.instanceId}, TLS name ${lab.rds.dnsName})`);
  console.log(`  lab CA           ${lab.tlsCaPath}   (e.g. PGSSLROOTCERT=${lab.tlsCaPath} psql "host=${lab.rdsEndpoint.host} sslmode=verify-full ...")`);
  console.log(`  DB tunnel        ${lab.db.host}:${lab.db.port}   (as an SSM port-forwarding session through ${lab.instances[0]?.id ?? 'the first backend'})`);
  for (const host of lab.instances) {
    console.log(`  instance         ${host.id}  ${host.privateIp}  health ${host.healthUrl || '(not serving)'}`);
  }
  // LAB_ENVIRONMENTS: the other environments of the same account, each in a line.
  for (const env of lab.environments.slice(1)) {
    const hosts = env.instances.map((h) => `${h.id} health ${h.healthUrl || '(not serving)'}`).join(', ');
    console.log(`  environment      ${env.name}: ${env.parameterPrefix}/*, ${env.rds.instanceId} at ${env.rdsEndpoint.host}:${env.rdsEndpoint.port}, tunnel ${env.db.host}:${env.db.port}, ${hosts}`);
  }
  console.log(`  local backend    ${lab.local.backendUrl}   (DATABASE_URL from ${lab.local.envFile})`);
  console.log(`  console config   ${lab.configPath}`);
  console.log(`  lab control      ${lab.awsEndpoint}/_lab/state, /_lab/faults, /_lab/requests, /_lab/run-command/history`);
  const { oidc } = lab;
  console.log(`  OIDC issuer      ${oidc.issuer}   (the lab identity provider; ${oidc.discoveryUrl})`);
  // The client secret stays out of the terminal (and any log capturing it): /_lab/state has it.
  console.log(`    client         ${oidc.clientId}, secret in ${lab.awsEndpoint}/_lab/state (.oidc.clientSecret)`);
  console.log(`    redirect URIs  ${oidc.redirectUris.join(', ')}   (LAB_OIDC_REDIRECT_URIS)`);
  console.log(`    scopes         ${oidc.scopes.join(' ')}; groups in the "${oidc.groupsClaim}" claim with scope ${oidc.groupsScope}`);
  console.log(`    clock          POST ${oidc.nextLoginUrl} {"authTimeAgeSeconds": 1200} makes the next sign-in 20 minutes old`);
  console.log('  sign-in accounts (the IdP\'s form; set LAB_*_PASSWORD to choose):');
  const width = Math.max(...oidc.accounts.map((a) => a.email.length));
  for (const account of oidc.accounts) {
    const password = options.oidc.passwords[account.passwordVariable as keyof typeof options.oidc.passwords];
    const note = account.emailVerified ? `${account.role}, groups ${account.groups.join(', ')}` : `email NOT verified, groups ${account.groups.join(', ')}`;
    console.log(`    ${account.email.padEnd(width)}  ${password}   (${note}; ${account.passwordVariable})`);
  }
  console.log('Press Ctrl-C to stop.');
}

void main();
