import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { AwsClientStub } from 'aws-sdk-client-mock';

// Run Command as SSM answers it, on an aws-sdk-client-mock SSM stub: each SendCommand gets a
// command id of its own, and ListCommandInvocations (with details) lists each of its instances with
// the answer set for that instance (or for '*'), its plugin Output joining stdout and stderr as the
// agent does. The answers can change between commands.

export interface InvocationAnswer {
  Status: string;
  stdout?: string;
  stderr?: string;
  ResponseCode?: number;
}

export function fakeRunCommand(ssm: AwsClientStub<SSMClient>, initial: Record<string, InvocationAnswer> = {}) {
  const answers: Record<string, InvocationAnswer> = { ...initial };
  const sent = new Map<string, string[]>();
  ssm.on(SendCommandCommand).callsFake((input: { InstanceIds?: string[] }) => {
    const commandId = `cmd-${sent.size + 1}`;
    sent.set(commandId, input.InstanceIds ?? []);
    return { Command: { CommandId: commandId } };
  });
  ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId?: string }) => ({
    CommandInvocations: (sent.get(input.CommandId ?? '') ?? []).flatMap((InstanceId) => {
      const a = answers[InstanceId] ?? answers['*'];
      if (!a) return [];
      const Output = `${a.stdout ?? ''}${a.stderr ? `\n----------ERROR-------\n${a.stderr}` : ''}`;
      return [{ CommandId: input.CommandId, InstanceId, Status: a.Status, CommandPlugins: [{ Name: 'aws:runShellScript', Status: a.Status, ResponseCode: a.ResponseCode ?? 0, Output }] }];
    }),
  }));
  return {
    /** From now on, `instanceId` ('*': every instance not named) answers with this. */
    answer(instanceId: string, answer: InvocationAnswer) {
      answers[instanceId] = answer;
    },
    /** The instance ids each SendCommand named, in order. */
    sent: () => [...sent.values()],
  };
}
