import type { RunbookDefinition } from './types';

// The seed's 'Local: "Connection Refused"': the docker-compose database, the connection string, and
// which connection string is in use at all (.env overrides the default in config.py).
export const localConnectionRefused: RunbookDefinition = {
  id: 'local-connection-refused',
  title: 'Local: "Connection refused"',
  kind: 'local',
  symptom: 'The local backend cannot reach the docker-compose PostgreSQL.',
  steps: [
    {
      id: 'local.url-format',
      title: 'Is DATABASE_URL well-formed?',
      meaning: 'A malformed URL (no port, no database, an unencoded "@" in the password) sends the driver somewhere else.',
    },
    {
      id: 'local.env-override',
      title: 'Does .env override the default DATABASE_URL?',
      meaning: 'Pydantic settings read .env before the default in config.py: an old .env silently points elsewhere.',
    },
    {
      id: 'local.listening',
      title: 'Is anything listening at DATABASE_URL\'s host and port?',
      meaning: '"Connection refused" means nothing listens there: the database container is down or on another port.',
    },
    {
      id: 'local.compose-db',
      title: 'Is the docker-compose database up?',
      meaning: 'docker-compose ps and logs say whether the db service started and why it stopped.',
    },
    {
      id: 'local.database-url',
      title: 'Does the database accept the login in DATABASE_URL?',
      meaning: 'Listening is not enough: user, password and database must match docker-compose.yml.',
    },
  ],
};
