import { createServer, type Server, type Socket } from 'node:net';
import { GetParametersCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClients } from '@/lib/aws/clients';
import { setConfigForTests } from '@/lib/config/load';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// A hung STS must not hang the console: the client behind assume-role is time-boxed like every other,
// so a rotation's calls (and the lock it keeps renewing) end instead of waiting forever.

let server: Server;
let port: number;
const sockets = new Set<Socket>();

const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

beforeAll(async () => {
  // The keys assume-role signs its STS call with (the SDK's default chain reads them from the environment).
  process.env.AWS_ACCESS_KEY_ID = 'AKIDUNITTEST';
  process.env.AWS_SECRET_ACCESS_KEY = 'unit-test-secret';
  // Accepts every connection and never answers: an endpoint that hangs.
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('the AWS clients', () => {
  it('give up on an STS that never answers the assume-role call, instead of waiting forever', async () => {
    // Mode aws: assume-role signs with the SDK's default chain, here the keys above.
    const config = setConfigForTests({
      mode: 'aws',
      environments: [
        {
          name: 'hung-sts',
          kind: 'aws',
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${port}`,
          credentials: { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/linkbox-ops-console' },
          rdsInstanceId: 'linkbox-db',
          dbSecurityGroup: { ids: ['sg-db'] },
          backendSecurityGroup: { ids: ['sg-app'] },
          backendInstances: { ids: ['i-1'] },
        },
      ],
    });
    const env = config.environments[0] as AwsEnvironmentConfig;
    await expect(awsClients(env).ssm.send(new GetParametersCommand({ Names: ['/linkbox/db-endpoint'] }))).rejects.toThrow(/timed? ?out|timeout/i);
    expect(sockets.size).toBeGreaterThan(0);
  }, 60_000);
});
