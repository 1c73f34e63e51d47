import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';

// The hosts follow their EC2 instances' state, read from moto directly: going through the gateway
// would show up in the request counters the console's budgets are measured with.

let client: { endpoint: string; region: string; ec2: EC2Client } | undefined;

export async function readInstanceStates(motoEndpoint: string, region: string, ids: string[]): Promise<Map<string, string>> {
  if (client?.endpoint !== motoEndpoint || client.region !== region) {
    client?.ec2.destroy();
    client = {
      endpoint: motoEndpoint,
      region,
      ec2: new EC2Client({
        region,
        endpoint: motoEndpoint,
        credentials: { accessKeyId: 'LABFLEET', secretAccessKey: 'lab-not-a-secret' },
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 },
      }),
    };
  }
  const states = new Map<string, string>();
  if (ids.length === 0) return states;
  const out = await client.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  for (const reservation of out.Reservations ?? []) {
    for (const instance of reservation.Instances ?? []) {
      if (instance.InstanceId && instance.State?.Name) states.set(instance.InstanceId, instance.State.Name);
    }
  }
  return states;
}
