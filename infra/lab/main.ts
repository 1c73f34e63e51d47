// `npm run lab`: the LinkBox lab in the foreground until Ctrl-C or SIGTERM, which stop everything
// it started (moto, PostgreSQL, the backend hosts) and exit 0.
import { resolve } from 'node:path';
import { DEFAULT_LAB_OPTIONS, startLab, type Lab, type LabOptions } from './index';

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name}=${raw} is not valid: use a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const options: LabOptions = {
    ...DEFAULT_LAB_OPTIONS,
    gatewayPort: intFromEnv('LAB_GATEWAY_PORT', DEFAULT_LAB_OPTIONS.gatewayPort, 0, 65535),
    localBackendPort: intFromEnv('LAB_LOCAL_BACKEND_PORT', DEFAULT_LAB_OPTIONS.localBackendPort, 0, 65535),
    resetSeconds: intFromEnv('LAB_RESET_SECONDS', DEFAULT_LAB_OPTIONS.resetSeconds, 0, 3600),
    dataDir: resolve(process.env.LAB_DATA_DIR || DEFAULT_LAB_OPTIONS.dataDir),
    log: (line) => console.log(`[lab] ${line}`),
  };

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
  console.log(`  RDS endpoint     ${lab.rds.endpointAddress}:${lab.rds.port} (${lab.rds.instanceId})`);
  console.log(`  DB tunnel        ${lab.db.host}:${lab.db.port}   (as an SSM port-forwarding session through ${lab.instances[0]?.id ?? 'the first backend'})`);
  for (const host of lab.instances) {
    console.log(`  instance         ${host.id}  ${host.privateIp}  health ${host.healthUrl || '(not serving)'}`);
  }
  console.log(`  local backend    ${lab.local.backendUrl}   (DATABASE_URL from ${lab.local.envFile})`);
  console.log(`  console config   ${lab.configPath}`);
  console.log(`  lab control      ${lab.awsEndpoint}/_lab/state, /_lab/faults, /_lab/requests`);
  console.log('Press Ctrl-C to stop.');
}

void main();
