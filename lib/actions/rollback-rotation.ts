'use server';

// Sets RDS back to the still-current SSM password after a rotation stopped before promoting the new one.
import { rollbackRotation } from '@/lib/rotation';
import { confirmedEnvironmentInput, environmentAction } from './safe-action';

export const rollbackRotationAction = environmentAction({
  action: 'rotation.rollback.start',
  what: 'rolling back a rotation',
  role: 'operator',
  schema: confirmedEnvironmentInput,
  page: (environment) => `/environments/${environment}/rotate`,
  run: async ({ caller, input }) => {
    const result = await rollbackRotation(caller, input.environment, { confirmEnvironment: input.confirmEnvironment });
    return result.ok ? { ok: true, message: 'Rollback started.' } : { error: result.error };
  },
});
