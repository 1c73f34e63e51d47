import { describe, expect, it } from 'vitest';
import { CONTAINER_STATE_FORMAT, parseInspect, type ShellAnswer } from '@/lib/aws/run-command';

// The container state command prints only the fields the checks read: a bare `docker inspect`
// prints Config.Env, and with it the DATABASE_URL holding the password, into Run Command's history.

const answer = (stdout: string): ShellAnswer => ({ status: 'Success', exitCode: 0, stdout, stderr: '' });
const section = (text: string, failed = false) => ({ text, failed });

describe('the container state format', () => {
  it('names state fields one by one and never the environment or the whole config', () => {
    expect(CONTAINER_STATE_FORMAT).not.toMatch(/\.Config\.Env|\.Config\s*}}|{{\s*json\s+\.Config\s*}}|{{\s*\.\s*}}|{{\s*json\s+\.\s*}}/);
    expect(CONTAINER_STATE_FORMAT).not.toContain("'");
    expect(CONTAINER_STATE_FORMAT).toContain('.State.Status');
  });
});

describe('parseInspect', () => {
  it('reads the state object the format prints', () => {
    const printed =
      '{"status":"running","restarts":2,"startedAt":"2026-11-30T10:00:00.123456789Z","finishedAt":"0001-01-01T00:00:00Z","exitCode":0,"image":"linkbox-backend:1.4","error":""}';
    expect(parseInspect(section(printed), answer(printed))).toEqual({
      ok: true,
      container: { status: 'running', startedAt: '2026-11-30T10:00:00.123Z', finishedAt: null, restartCount: 2, exitCode: 0, image: 'linkbox-backend:1.4', error: null },
    });
  });

  it('reads "No such object" as no container, a verdict', () => {
    const printed = 'Error: No such object: linkbox-backend';
    expect(parseInspect(section(printed, true), answer(printed))).toMatchObject({ ok: true, container: { status: 'missing' } });
  });

  it('does not take a whole inspect array (what a bare docker inspect prints) for the state object', () => {
    const printed = '[{"State":{"Status":"running"},"Config":{"Env":["DATABASE_URL=postgresql://u:secret@db:5432/x"]}}]';
    const report = parseInspect(section(printed), answer(printed));
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report)).not.toContain('secret');
  });

  it('redacts what a failed inspect printed before quoting it', () => {
    const printed = 'template: :1: DATABASE_URL=postgresql://u:hunter2-secret@db:5432/x';
    const report = parseInspect(section(printed, true), answer(printed));
    expect(report).toMatchObject({ ok: false, reason: expect.stringMatching(/^docker inspect failed/) });
    expect(JSON.stringify(report)).not.toContain('hunter2-secret');
  });
});
