import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { invalidateAfterWrite } from '@/lib/aws/readers';
import { getEnvironment } from '@/lib/config/load';
import type { Caller } from '@/lib/roles';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '@/lib/status';
import { healthyAws, PASSWORD, rds, setTestConfig, ssm, startFakePostgres, startHealthServer, VIEWER } from './support';

// What "Refresh now" and ?fresh=1 may cost AWS: a fresh status younger than the minimum age is
// served as it is, fresh diagnoses are limited per caller, and the console's own writes are seen at once.

let pg: Awaited<ReturnType<typeof startFakePostgres>>;
let healthy: Awaited<ReturnType<typeof startHealthServer>>;
const OTHER_VIEWER: Caller = { id: 'token:dashboard', role: 'viewer', via: 'token' };

beforeAll(async () => {
  pg = await startFakePostgres(PASSWORD);
  healthy = await startHealthServer(200);
});
afterAll(async () => {
  await Promise.all([pg.close(), healthy.close()]);
});

function configure(freshReads: { minAgeSeconds: number; diagnosisEverySeconds: number }) {
  setTestConfig({ dbPort: pg.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url }, freshReads });
}

const statusCalls = () => rds.commandCalls(DescribeDBInstancesCommand).length;
const runCommands = () => ssm.commandCalls(SendCommandCommand).length;

beforeEach(() => healthyAws());

describe('fresh reads', () => {
  it('serve a status younger than the minimum age as it is, however many ask', async () => {
    configure({ minAgeSeconds: 3600, diagnosisEverySeconds: 0 });
    const first = await getEnvironmentStatus(VIEWER, 'production', { fresh: true });
    await Promise.all(Array.from({ length: 20 }, (_, i) => getEnvironmentStatus(i % 2 ? VIEWER : OTHER_VIEWER, 'production', { fresh: true })));
    const again = await getEnvironmentStatus(VIEWER, 'production', { fresh: true });
    expect(again.checkedAt).toBe(first.checkedAt);
    expect(statusCalls()).toBe(1);
    expect(runCommands()).toBe(1);
  });

  it('load again once the status is older than the minimum age', async () => {
    configure({ minAgeSeconds: 0, diagnosisEverySeconds: 0 });
    await getEnvironmentStatus(VIEWER, 'production', { fresh: true });
    await getEnvironmentStatus(VIEWER, 'production', { fresh: true });
    expect(statusCalls()).toBe(2);
  });

  it('give each caller one fresh diagnosis per interval; in between the latest, saying when a fresh one is possible', async () => {
    configure({ minAgeSeconds: 0, diagnosisEverySeconds: 3600 });
    const first = await diagnoseEnvironment(VIEWER, 'production', { fresh: true });
    expect(first.freshLimited).toBeUndefined();
    const calls = statusCalls();

    const limited = await diagnoseEnvironment(VIEWER, 'production', { fresh: true });
    expect(limited.freshLimited?.retryInSeconds).toBeGreaterThan(3500);
    expect(limited.checkedAt).toBe(first.checkedAt);
    expect(statusCalls()).toBe(calls);

    const someoneElse = await diagnoseEnvironment(OTHER_VIEWER, 'production', { fresh: true });
    expect(someoneElse.freshLimited).toBeUndefined();
    expect(statusCalls()).toBe(calls + 1);
  });

  it('never hide the console\'s own write: after it, even a plain read computes the status again', async () => {
    configure({ minAgeSeconds: 3600, diagnosisEverySeconds: 0 });
    const before = await getEnvironmentStatus(VIEWER, 'production');
    expect((await getEnvironmentStatus(VIEWER, 'production', { fresh: true })).checkedAt).toBe(before.checkedAt);
    const env = getEnvironment('production');
    if (env.kind !== 'aws') throw new Error('production is an AWS environment');
    invalidateAfterWrite(env, ['db-instance']);
    const after = await getEnvironmentStatus(VIEWER, 'production');
    expect(after.checkedAt).not.toBe(before.checkedAt);
    expect(statusCalls()).toBe(2);
  });
});
