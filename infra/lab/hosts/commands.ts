import type { Container } from './container';
import { docker, EXEC_PROGRAMS, fail, ok, parseExec, type Output } from './docker';
import { curl, nc, type NetContext } from './net';
import { parseLine, ShellSyntaxError, type ChainLink, type SimpleCommand } from './shell';
import { planFilter } from './text-filters';

// The lab's interpreter for AWS-RunShellScript: it understands the commands the deploy scripts and
// the runbooks use and nothing else. A script is read whole before anything runs, so a script with
// one unsupported line does nothing at all rather than half of what it says.

export interface HostContext extends NetContext {
  container: Container;
  /** start_application.sh: a new container reading SSM afresh, with the image given (or the current one). */
  runApplication: (image: string | undefined) => Promise<{ ok: true; containerId: string } | { ok: false; error: string }>;
  /** Applied after a container (re)start, so a crash fault still holds. */
  afterStart: () => Promise<void>;
}

export type ScriptPlan = { ok: true; lines: ChainLink[][] } | { ok: false; output: Output };

const MAX_SLEEP_S = 60;

/** Reads and checks every line; `export NAME=value` lines feed `$NAME` in the lines after them. */
export function planScript(commandLines: string[]): ScriptPlan {
  const vars = new Map<string, string>();
  const lines: ChainLink[][] = [];
  for (const raw of commandLines.flatMap((l) => l.split(/\r?\n/))) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('#!')) continue;
    let links: ChainLink[];
    try {
      links = parseLine(line, vars);
    } catch (err) {
      if (err instanceof ShellSyntaxError) return { ok: false, output: fail(`lab: ${err.message}`, 2) };
      throw err;
    }
    for (const link of links) {
      const problem = unsupported(link.command);
      if (problem) return { ok: false, output: problem };
      const words = withoutSudo(link.command.words);
      if (words[0] === 'export' || words.length === 0) {
        for (const [name, value] of [...link.command.assignments, ...exportsOf(words)]) vars.set(name, value);
      }
    }
    lines.push(links);
  }
  return { ok: true, lines };
}

/** Runs a checked script as sh would: `&&`/`||` short-circuit, the exit code is the last command's. */
export async function runScript(plan: Extract<ScriptPlan, { ok: true }>, ctx: HostContext): Promise<Output> {
  const env = new Map<string, string>();
  let stdout = '';
  let stderr = '';
  let status = 0;
  for (const links of plan.lines) {
    for (const link of links) {
      if (link.joiner === '&&' && status !== 0) continue;
      if (link.joiner === '||' && status === 0) continue;
      let out = await runCommand(link.command, env, ctx);
      // A pipeline: each filter reads the stdout before it; stderr goes straight through, and the
      // status is the last filter's (sh without pipefail).
      for (const words of link.command.pipedInto) {
        const plan = planFilter(words);
        const filtered = plan.ok ? plan.filter(out.stdout) : plan.output;
        out = { stdout: filtered.stdout, stderr: out.stderr + filtered.stderr, exitCode: filtered.exitCode };
      }
      if (link.command.stdout === 'keep') stdout += out.stdout;
      if (link.command.stderr === 'keep') stderr += out.stderr;
      else if (link.command.stderr === 'to-stdout' && link.command.stdout === 'keep') stdout += out.stderr;
      status = out.exitCode;
    }
  }
  return { stdout, stderr, exitCode: status };
}

function withoutSudo(words: string[]): string[] {
  if (words[0] !== 'sudo') return words;
  let i = 1;
  while (i < words.length && words[i]!.startsWith('-')) i += words[i] === '-u' ? 2 : 1;
  return words.slice(i);
}

function exportsOf(words: string[]): Array<[string, string]> {
  if (words[0] !== 'export') return [];
  return words.slice(1).flatMap((w) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w);
    return m ? [[m[1]!, m[2]!] as [string, string]] : [];
  });
}

function applicationScript(words: string[]): 'start' | 'stop' | null {
  const script = words[0] === 'bash' || words[0] === 'sh' ? words[1] : words[0];
  if (!script) return null;
  if (/(^|\/)start_application\.sh$/.test(script)) return 'start';
  if (/(^|\/)stop_application\.sh$/.test(script)) return 'stop';
  return null;
}

function unsupported(command: SimpleCommand): Output | null {
  const words = withoutSudo(command.words);
  const first = words[0];
  const notSupported = (word: string, hint = '') => fail(`lab: command not supported by the lab: ${word}${hint}`, 127);
  for (const stage of command.pipedInto) {
    const plan = planFilter(stage);
    if (!plan.ok) return plan.output;
  }
  if (!first || first === 'export' || first === 'echo' || first === 'true' || first === 'sleep') return null;
  if (applicationScript(words)) return null;
  if (first === 'docker') {
    if (['ps', 'inspect', 'logs', 'restart', 'stop', 'start'].includes(words[1] ?? '')) return null;
    if (words[1] === 'exec') {
      const exec = parseExec(words.slice(2));
      if (!exec.ok || EXEC_PROGRAMS.has(exec.command[0]!)) return null; // docker's own usage errors are printed when run
      return notSupported(`docker exec ... ${exec.command[0]}`, ' (the lab runs env and printenv in the container)');
    }
    return notSupported(`docker ${words[1] ?? ''}`.trim());
  }
  if (first === 'curl' || first === 'nc') return null;
  return notSupported(first);
}

async function runCommand(command: SimpleCommand, env: Map<string, string>, ctx: HostContext): Promise<Output> {
  const words = withoutSudo(command.words);
  const local = new Map([...env, ...command.assignments]);
  if (words.length === 0 || words[0] === 'export') {
    for (const [name, value] of [...command.assignments, ...exportsOf(words)]) env.set(name, value);
    return ok('');
  }
  const [first, ...args] = words as [string, ...string[]];
  if (first === 'true') return ok('');
  if (first === 'echo') return ok(`${args.filter((a, i) => !(i === 0 && a === '-n')).join(' ')}${args[0] === '-n' ? '' : '\n'}`);
  if (first === 'sleep') {
    const seconds = Number(args[0]);
    if (!Number.isFinite(seconds) || seconds < 0) return fail(`sleep: invalid time interval '${args[0] ?? ''}'`, 1);
    await new Promise((r) => setTimeout(r, Math.min(seconds, MAX_SLEEP_S) * 1000));
    return ok('');
  }
  const script = applicationScript(words);
  if (script === 'stop') {
    await ctx.container.stop();
    return ok('Stopping linkbox-backend\nlinkbox-backend\n');
  }
  if (script === 'start') {
    const image = local.get('IMAGE_URI') || undefined;
    const started = await ctx.runApplication(image);
    if (!started.ok) {
      return { stdout: 'Reading database settings from SSM Parameter Store\n', stderr: `${started.error}\n`, exitCode: 1 };
    }
    const shown = ctx.container.inspect().image;
    return ok(`Reading database settings from SSM Parameter Store\nStarting linkbox-backend (${shown})\n${started.containerId}\n`);
  }
  if (first === 'docker') return docker(args, { container: ctx.container, afterStart: ctx.afterStart });
  if (first === 'curl') return curl(args, ctx);
  if (first === 'nc') return nc(args, ctx);
  return fail(`lab: command not supported by the lab: ${first}`, 127);
}
