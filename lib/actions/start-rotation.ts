'use server';

// Starts rotating an environment's database password in DESIGN.md's safe order; the rest runs in the background.
import { startRotation } from '@/lib/rotation';
import { confirmedEnvironmentInput, environmentAction } from './safe-action';

export const startRotationAction = environmentAction({
  action: 'rotation.start',
  what: 'rotating the password',
  role: 'operator',
  schema: confirmedEnvironmentInput,
  page: (environment) => `/environments/${environment}/rotate`,
  run: async ({ caller, input }) => {
    const result = await startRotation(caller, input.environment, { confirmEnvironment: input.confirmEnvironment });
    return result.ok ? { ok: true, message: 'Rotation started.' } : { error: result.error };
  },
});
