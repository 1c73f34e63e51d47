import type { RunbookDefinition } from './types';

// The seed's 'Production: "Could not connect to server"': security group, SSM parameters, a TCP test
// from the EC2 instance itself, the instance role's permissions — preceded by what makes all of
// those moot (the instance stopped, the endpoint in SSM wrong), and followed down to each
// instance's own groups and its subnets' network ACLs.
export const couldNotConnect: RunbookDefinition = {
  id: 'could-not-connect',
  title: 'Production: "Could not connect to server"',
  kind: 'aws',
  symptom: 'The backend cannot open a connection to the database: refused, timed out, or the host is unknown.',
  steps: [
    {
      id: 'rds.status',
      title: 'Is the RDS instance available?',
      meaning: 'A stopped, rebooting or failed instance refuses every connection, whatever the network says.',
    },
    {
      id: 'sg.backend-ingress',
      title: 'Does the DB security group admit the backend security group on the DB port?',
      meaning: 'Without this rule the backends\' packets are dropped: connections time out instead of being refused.',
    },
    {
      id: 'net.instance-security-groups',
      title: 'Is each backend instance in a group (or at an address) the DB security group admits, and may it send there?',
      meaning: 'The rule can be intact while one instance is not covered by it: moved to another group, or admitted only by an address it no longer has.',
    },
    {
      id: 'net.network-acls',
      title: 'Do the network ACLs of each backend\'s subnet and of the database\'s subnet pass the request and the reply?',
      meaning: 'ACLs are stateless: a deny entry, a missing allow, or a reply rule that misses the client\'s ephemeral ports drops the connection silently.',
    },
    {
      id: 'ssm.parameters',
      title: 'Are the four SSM parameters present and readable?',
      meaning: 'start_application.sh builds DATABASE_URL from them; a missing one leaves an empty host, user or password.',
    },
    {
      id: 'rds.endpoint-match',
      title: 'Does SSM db-endpoint match the RDS endpoint address?',
      meaning: 'The backends connect to whatever db-endpoint says; a stale or mistyped one points them nowhere.',
    },
    {
      id: 'net.tcp',
      title: 'Can the console open TCP to the database?',
      meaning: 'Tells a dropped packet (timed out) from a closed port (refused) from where the console stands.',
    },
    {
      id: 'backend.tcp',
      title: 'Can each backend instance open TCP to db-endpoint (nc -zv, from the instance)?',
      meaning: 'The seed\'s own test, from the backends\' place in the network: this is the path the application uses.',
    },
    {
      id: 'backend.role-permissions',
      title: 'May the instance role read db-password and decrypt it (ssm:GetParameter, kms:Decrypt)?',
      meaning: 'Without them start_application.sh reads an empty password and the container cannot log in or start.',
    },
    {
      id: 'sg.no-public-ingress',
      title: 'Is the DB port closed to the internet?',
      meaning: 'Not a connectivity fault but a security one: a rule admitting 0.0.0.0/0 or ::/0 exposes the database.',
    },
    {
      id: 'rds.private',
      title: 'Is the RDS instance private?',
      meaning: 'A publicly accessible instance gets a public address; the seed requires it to stay in the private subnet.',
    },
  ],
};
