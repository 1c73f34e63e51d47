'use server';

// Restarts the backend containers one at a time (a rolling redeploy), optionally onto a new image tag.
import { z } from 'zod';
import { IMAGE_TAG_PATTERN, startRedeploy } from '@/lib/deploy';
import { confirmedEnvironmentInput, environmentAction } from './safe-action';

const restartContainersInput = confirmedEnvironmentInput.extend({
  // Checked here and again by the deploy: a tag is the one operator text that gets near a command line.
  imageTag: z.string().regex(IMAGE_TAG_PATTERN, 'not an image tag').optional(),
});

export const restartContainersAction = environmentAction({
  action: 'redeploy.start',
  what: 'restarting containers',
  role: 'operator',
  schema: restartContainersInput,
  page: (environment) => `/environments/${environment}/redeploy`,
  run: async ({ caller, input }) => {
    const result = await startRedeploy(caller, input.environment, { confirmEnvironment: input.confirmEnvironment, imageTag: input.imageTag });
    return result.ok ? { ok: true, message: 'Restart started.' } : { error: result.error };
  },
});
