import type { RunbookDefinition } from './types';

// When /health is not 200: walk from the instance up to the container's own answer, so the first
// red line says whether it is the machine, the agent, the container or the database behind it.
export const containerUnhealthy: RunbookDefinition = {
  id: 'container-unhealthy',
  title: 'Container unhealthy',
  kind: 'aws',
  symptom: 'A backend answers /health with 503, does not answer at all, or keeps restarting.',
  steps: [
    {
      id: 'containers.running',
      title: 'Is every backend instance running with its container up?',
      meaning: 'A stopped instance or an exited container serves nothing; the load balancer takes it out.',
    },
    {
      id: 'backend.agent-online',
      title: 'Is the SSM agent online on every backend instance?',
      meaning: 'Deploys, restarts and Session Manager all go through the agent; offline, nothing can be fixed remotely.',
    },
    {
      id: 'backend.restart-count',
      title: 'What state is the container in, and how often has it restarted?',
      meaning: 'A container that keeps restarting crashes at start, usually on a DATABASE_URL it cannot use.',
    },
    {
      id: 'db.backend-credentials',
      title: 'Can the backend use the DATABASE_URL start_application.sh builds from SSM?',
      meaning: 'A whitespace stops docker run, a "/" or "#" stops the app at start, a "%XX" changes the password it sends.',
    },
    {
      id: 'containers.health',
      title: 'Does every backend answer /health with 200?',
      meaning: 'The health endpoint opens a real database connection; a 503 carries the database error.',
    },
    {
      id: 'backend.login-path',
      title: 'If the console logs in and a backend does not, what differs between the two?',
      meaning: 'Credentials as parsed, source network, TLS or the password version: the difference, not the symptom, is what to fix.',
    },
    {
      id: 'containers.fresh-credentials',
      title: 'Did every container start after the last password change?',
      meaning: 'A container started with a password that has since changed fails its next database connection.',
    },
  ],
};
