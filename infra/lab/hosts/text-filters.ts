import { fail, ok, type Output } from './docker';

// The filters that runbooks put after a `|`: `grep` (as in the seed's
// `docker exec linkbox-backend env | grep DATABASE_URL`), `head` and `tail`, reading the previous
// command's stdout. Options they do not know are refused when the script is planned.

export type Filter = (input: string) => Output;

/** A filter for `words` (e.g. ['grep', '-i', 'database_url']), or the lab's refusal. */
export function planFilter(words: string[]): { ok: true; filter: Filter } | { ok: false; output: Output } {
  const [program, ...args] = words;
  if (program === 'grep') return planGrep(args);
  if (program === 'head' || program === 'tail') return planHeadTail(program, args);
  return { ok: false, output: fail(`lab: command not supported by the lab: ${program ?? '|'} (the lab pipes only into grep, head and tail)`, 127) };
}

function planGrep(args: string[]): { ok: true; filter: Filter } | { ok: false; output: Output } {
  const flags = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (rest.length === 0 && /^-[ivEFqcw]+$/.test(a)) for (const f of a.slice(1)) flags.add(f);
    else if (rest.length === 0 && a.startsWith('-')) return { ok: false, output: fail(`lab: grep option ${a} is not supported by the lab (use -i -v -E -F -q -c -w)`, 2) };
    else rest.push(a);
  }
  if (rest.length !== 1) return { ok: false, output: fail('lab: only "grep [-ivEFqcw] PATTERN" reading a pipe is supported by the lab', 2) };
  let source = flags.has('F') ? escapeRegExp(rest[0]!) : flags.has('E') ? rest[0]! : basicToExtended(rest[0]!);
  if (flags.has('w')) source = `(?<![A-Za-z0-9_])(?:${source})(?![A-Za-z0-9_])`;
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, flags.has('i') ? 'i' : '');
  } catch {
    return { ok: false, output: fail(`grep: Unmatched ( or \\(`, 2) };
  }
  return {
    ok: true,
    filter: (input) => {
      const matched = lines(input).filter((line) => pattern.test(line) !== flags.has('v'));
      const status = matched.length > 0 ? 0 : 1;
      if (flags.has('q')) return { stdout: '', stderr: '', exitCode: status };
      if (flags.has('c')) return { stdout: `${matched.length}\n`, stderr: '', exitCode: status };
      return { stdout: matched.map((l) => `${l}\n`).join(''), stderr: '', exitCode: status };
    },
  };
}

function planHeadTail(program: 'head' | 'tail', args: string[]): { ok: true; filter: Filter } | { ok: false; output: Output } {
  let count = 10;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-n') count = Number(args[++i]);
    else if (/^-n?\d+$/.test(a)) count = Number(a.replace(/^-n?/, ''));
    else return { ok: false, output: fail(`lab: only "${program} -n N" reading a pipe is supported by the lab`, 1) };
  }
  if (!Number.isInteger(count) || count < 0) return { ok: false, output: fail(`${program}: invalid number of lines`, 1) };
  return {
    ok: true,
    filter: (input) => {
      const all = lines(input);
      const kept = program === 'head' ? all.slice(0, count) : count === 0 ? [] : all.slice(-count);
      return ok(kept.map((l) => `${l}\n`).join(''));
    },
  };
}

function lines(text: string): string[] {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** POSIX basic regular expressions: `\(`, `\|`, `\+` are the operators; bare `(`, `|`, `+` are literal. */
function basicToExtended(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const next = pattern[++i]!;
      out += '(){}|+?'.includes(next) ? next : `\\${next}`;
    } else out += '(){}|+?'.includes(c) ? `\\${c}` : c;
  }
  return out;
}
