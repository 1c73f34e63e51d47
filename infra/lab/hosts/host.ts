import type { Container } from './container';

/** One simulated EC2 backend instance as the fleet and Run Command see it. */
export interface LabHost {
  id: string;
  name: string;
  privateIp: string;
  /** Its environment's SSM prefix and RDS endpoint address. */
  parameterPrefix: string;
  rdsEndpointAddress: string;
  container: Container;
  /** EC2 state as moto last reported it. */
  ec2State: string;
  /** When the SSM agent last came up (the instance started), for DescribeInstanceInformation. */
  agentStartedAt: Date;
  /** When the agent last pinged: now while the instance runs, the stop time after. */
  agentPingAt: Date;
  /** Re-applies the host's container fault after any start: a crashed-container fault outlives restarts. */
  afterContainerStart: () => Promise<void>;
}
