import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import type { AwsCall, AwsReply } from './contract';
import type { CallHandler } from './gateway/server';
import { errorReply } from './gateway/replies';
import type { DbNetwork } from './network/db-network';
import type { LabPostgres } from './postgres';

// What moto lacks about RDS, for each of the lab's instances: a master password change is
// accepted, shown as `resetting-master-credentials` with a pending MasterUserPassword for a while,
// and only then changes its master user's password in PostgreSQL; stop, start and reboot act on
// its endpoints in the DB network. While the credentials reset, another modify is refused with
// InvalidDBInstanceState (HTTP 400), as RDS refuses any modification of an instance that is not
// available: a client that re-sends a modify whose answer it lost gets that error, though its
// first call worked.
// The password passes through here; it is never logged or echoed.

const REBOOT_MS = 2000;

export interface RdsPhysicsOptions {
  /** The lab's RDS instances by id, each with its master user (a role of the one PostgreSQL). */
  masterUsernames: ReadonlyMap<string, string>;
  resetSeconds: number;
  postgres: LabPostgres;
  network: DbNetwork;
  /** moto itself, to read the instance's state without counting a call. */
  motoUrl: string;
  region: string;
  log: (line: string) => void;
}

export interface RdsPhysics {
  handler: CallHandler;
  stop(): void;
}

interface Transient {
  status: 'resetting-master-credentials' | 'rebooting';
  pendingMasterUserPassword: boolean;
  timer: NodeJS.Timeout;
}

/** RDS's own rule for MasterUserPassword, and its own wording when the rule is broken. */
export function masterPasswordProblem(password: string): string | undefined {
  if (password.length < 8) return 'The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.';
  if (password.length > 128) return 'The parameter MasterUserPassword is not a valid password because it is longer than 128 characters.';
  if (!/^[\x20-\x7e]+$/.test(password) || /[/@" ]/.test(password)) {
    return "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.";
  }
  return undefined;
}

export function createRdsPhysics(options: RdsPhysicsOptions): RdsPhysics {
  const rds = new RDSClient({
    region: options.region,
    endpoint: options.motoUrl,
    credentials: { accessKeyId: 'lab-internal', secretAccessKey: 'lab-internal' },
    maxAttempts: 1,
  });
  const transient = new Map<string, Transient>();
  let stopped = false;

  // RDS's own words: a modify (or reboot) names no instance, a stop does.
  const invalidState = (id: string, action: 'modify' | 'stop' = 'modify') =>
    errorReply('rds', {
      code: 'InvalidDBInstanceState',
      message: action === 'stop' ? `Instance ${id} is not in available state.` : 'Database instance is not in available state.',
      status: 400,
      type: 'Sender',
    });

  const motoStatus = async (id: string): Promise<string | undefined> => {
    try {
      const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      return DBInstances?.[0]?.DBInstanceStatus;
    } catch {
      return undefined; // unknown instance: moto answers the forwarded call in RDS's words
    }
  };

  const isOk = (reply: AwsReply) => reply.status >= 200 && reply.status < 300;

  const modify = async (call: AwsCall, id: string, forward: () => Promise<AwsReply>): Promise<AwsReply> => {
    const password = call.input.MasterUserPassword;
    if (typeof password === 'string') {
      const problem = masterPasswordProblem(password);
      if (problem) return errorReply('rds', { code: 'InvalidParameterValue', message: problem, status: 400, type: 'Sender' });
    }
    if (transient.has(id)) return invalidState(id);
    const status = await motoStatus(id);
    if (status !== undefined && status !== 'available') return invalidState(id);

    const reply = await forward();
    if (!isOk(reply) || typeof password !== 'string') return reply;

    const timer = setTimeout(() => void applyPassword(id, password), options.resetSeconds * 1000);
    transient.set(id, { status: 'resetting-master-credentials', pendingMasterUserPassword: true, timer });
    options.log(`RDS ${id}: resetting master credentials (${options.resetSeconds} s)`);
    return overlay(reply);
  };

  const applyPassword = async (id: string, password: string) => {
    try {
      if (!stopped) await options.postgres.setRolePassword(options.masterUsernames.get(id)!, password);
      options.log(`RDS ${id}: master password changed`);
    } catch (err) {
      // The error text from PostgreSQL never contains the password (statements are not echoed).
      options.log(`RDS ${id}: the master password change failed in PostgreSQL: ${(err as Error).message}`);
    } finally {
      transient.delete(id);
    }
  };

  const reboot = async (id: string, forward: () => Promise<AwsReply>): Promise<AwsReply> => {
    if (transient.has(id)) return invalidState(id);
    const status = await motoStatus(id);
    if (status !== undefined && status !== 'available') return invalidState(id);
    const reply = await forward();
    if (!isOk(reply)) return reply;
    const timer = setTimeout(() => {
      transient.delete(id);
      if (!stopped) void options.network.setRebooting(id, false);
      options.log(`RDS ${id}: available again after reboot`);
    }, REBOOT_MS);
    transient.set(id, { status: 'rebooting', pendingMasterUserPassword: false, timer });
    await options.network.setRebooting(id, true);
    options.log(`RDS ${id}: rebooting`);
    return overlay(reply);
  };

  const stopOrStart = async (id: string, action: string, forward: () => Promise<AwsReply>): Promise<AwsReply> => {
    if (action === 'StopDBInstance' && transient.has(id)) return invalidState(id, 'stop');
    const reply = await forward();
    if (isOk(reply)) {
      await options.network.refresh();
      options.log(`RDS ${id}: ${action === 'StopDBInstance' ? 'stopped' : 'started'}`);
    }
    return reply;
  };

  /** Shows the transient states moto does not model, in moto's own XML. */
  const overlay = (reply: AwsReply): AwsReply => {
    if (transient.size === 0 || !isOk(reply)) return reply;
    const body = reply.body.replace(/<DBInstance>([\s\S]*?)<\/DBInstance>/g, (block: string) => {
      const id = /<DBInstanceIdentifier>([^<]*)<\/DBInstanceIdentifier>/.exec(block)?.[1];
      const state = id ? transient.get(id) : undefined;
      if (!state) return block;
      let out = block.replace(/<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/, `<DBInstanceStatus>${state.status}</DBInstanceStatus>`);
      if (state.pendingMasterUserPassword) {
        const pending = '<MasterUserPassword>****</MasterUserPassword>';
        out = /<PendingModifiedValues>/.test(out)
          ? out.replace(/<PendingModifiedValues>/, `<PendingModifiedValues>${pending}`).replace(/<PendingModifiedValues\/>/, `<PendingModifiedValues>${pending}</PendingModifiedValues>`)
          : out.replace(/<\/DBInstanceStatus>/, `</DBInstanceStatus><PendingModifiedValues>${pending}</PendingModifiedValues>`);
      }
      return out;
    });
    return { ...reply, body };
  };

  const handler: CallHandler = async (call, forward) => {
    if (call.service !== 'rds') return undefined;
    const given = typeof call.input.DBInstanceIdentifier === 'string' ? call.input.DBInstanceIdentifier : undefined;
    const id = given !== undefined && options.masterUsernames.has(given) ? given : undefined;
    switch (call.action) {
      case 'DescribeDBInstances':
        return transient.size > 0 ? overlay(await forward()) : undefined;
      case 'ModifyDBInstance':
        return id ? modify(call, id, forward) : undefined;
      case 'RebootDBInstance':
        return id ? reboot(id, forward) : undefined;
      case 'StopDBInstance':
      case 'StartDBInstance':
        return id ? stopOrStart(id, call.action, forward) : undefined;
      default:
        return undefined;
    }
  };

  return {
    handler,
    stop() {
      stopped = true;
      for (const t of transient.values()) clearTimeout(t.timer);
      transient.clear();
      rds.destroy();
    },
  };
}
