// `npm run lab`: the LinkBox lab in the foreground until Ctrl-C or SIGTERM, which stop everything
// it started (moto, PostgreSQL, the backend hosts) and exit 0.
import { labOptionsFromEnv, LabSettingError } from './env';
import { startLab, type Lab, type LabOptions } from './index';

async function main(): Promise<void> {
  let options: LabOptions;
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
    // MotoNotInstalledError and PortInUseError already say what to do; others say what broke.
    console.error(`The lab did not start: ${(err as Error).message}`);
    process.exit(1);
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
  console.log(`  local backend    ${lab.local.backendUrl}   (DATABASE_URL from ${lab.local.envFile})`);
  console.log(`  console config   ${lab.configPath}`);
  console.log(`  lab control      ${lab.awsEndpoint}/_lab/state, /_lab/faults, /_lab/requests, /_lab/run-command/history`);
  console.log('Press Ctrl-C to stop.');
}

void main();
