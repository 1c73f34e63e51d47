import type { RunbookDefinition } from './types';

// The seed's '"Authentication Failed"': do SSM's credentials match RDS. Extended with the two ways a
// password change goes wrong (a rotation stopped half-way, containers still holding the old one),
// with what the backends make of the stored values, and with what differs when only one side fails.
export const authenticationFailed: RunbookDefinition = {
  id: 'authentication-failed',
  title: '"Authentication failed"',
  kind: 'aws',
  symptom: 'The database answers but refuses the login: password authentication failed, role or database does not exist.',
  steps: [
    {
      id: 'ssm.parameters',
      title: 'Are the four SSM parameters present and readable?',
      meaning: 'The credentials the backends use are exactly what SSM holds; a missing one is an empty user or password.',
    },
    {
      id: 'rds.username-match',
      title: 'Does SSM db-username match the RDS master username?',
      meaning: 'A different user name fails every login, whatever the password.',
    },
    {
      id: 'db.login',
      title: 'Does a login with the SSM credentials succeed?',
      meaning: 'The definitive test: the password in SSM is the one PostgreSQL accepts, and db-name exists.',
    },
    {
      id: 'db.backend-credentials',
      title: 'Do the backends send those same credentials, once start_application.sh and their URL parser have read them?',
      meaning: 'DATABASE_URL is built without encoding: a "%41" RDS accepts reaches PostgreSQL as "A", so the console logs in and the backends do not.',
    },
    {
      id: 'rotation.pending',
      title: 'Is a password rotation pending or half-done?',
      meaning: 'Between the RDS change and the SSM promotion, SSM and RDS briefly disagree; a rotation that stopped there keeps them apart.',
    },
    {
      id: 'ssm.password-type',
      title: 'Is db-password a SecureString?',
      meaning: 'A plain String works but leaves the password unencrypted; a rotation fixes the type as it writes.',
    },
    {
      id: 'containers.fresh-credentials',
      title: 'Did every container start after the last password change?',
      meaning: 'A container reads SSM only when it starts: one started with another value than the current one still holds the old password.',
    },
    {
      id: 'backend.login-path',
      title: 'If the console logs in and a backend does not (or the reverse), what differs between the two?',
      meaning: 'Credentials as parsed, source network, TLS or the password version: the difference, not the symptom, is what to fix.',
    },
  ],
};
