// Reads the `commands` lines of an AWS-RunShellScript document into words, the way sh would split
// them (quotes, `$VAR`, `&&`/`||`/`;`, a few redirections), so the lab can interpret them. Nothing
// here, or anywhere in the lab, hands user text to a shell.

export interface SimpleCommand {
  /** `NAME=value` words before the command (apply to this command only). */
  assignments: Array<[string, string]>;
  words: string[];
  /** `>/dev/null`, `2>/dev/null`, `2>&1`, `&>/dev/null`. */
  stdout: 'keep' | 'discard';
  stderr: 'keep' | 'discard' | 'to-stdout';
  /** Commands after `|`: the lab pipes only into grep, head and tail (text-filters.ts). */
  pipedInto: string[][];
}

export interface ChainLink {
  /** How this command joins the previous one; null for the first. */
  joiner: '&&' | '||' | ';' | null;
  command: SimpleCommand;
}

export class ShellSyntaxError extends Error {}

type Token = { kind: 'word'; text: string; quoted: boolean } | { kind: 'op'; text: string };

/** Splits one line into chained commands; `$NAME` expands from `vars` (the script's own exports). */
export function parseLine(line: string, vars: Map<string, string>): ChainLink[] {
  const tokens = tokenize(line, vars);
  const links: ChainLink[] = [];
  let joiner: ChainLink['joiner'] = null;
  let current: Token[] = [];
  const flush = () => {
    if (current.length === 0) {
      if (joiner && joiner !== ';') throw new ShellSyntaxError(`syntax error near unexpected token \`${joiner}'`);
      return;
    }
    links.push({ joiner, command: toCommand(current) });
    current = [];
  };
  for (const token of tokens) {
    if (token.kind === 'op' && (token.text === '&&' || token.text === '||' || token.text === ';')) {
      flush();
      joiner = token.text;
    } else {
      current.push(token);
    }
  }
  flush();
  return links;
}

function toCommand(tokens: Token[]): SimpleCommand {
  const command: SimpleCommand = { assignments: [], words: [], stdout: 'keep', stderr: 'keep', pipedInto: [] };
  let pipeline: string[] | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'op') {
      if (token.text === '|') {
        pipeline = [];
        command.pipedInto.push(pipeline);
        continue;
      }
      if (token.text === '2>&1') {
        command.stderr = 'to-stdout';
        continue;
      }
      if (token.text === '>' || token.text === '1>' || token.text === '2>' || token.text === '&>') {
        const target = tokens[++i];
        if (!target || target.kind !== 'word') throw new ShellSyntaxError('syntax error near unexpected token `newline\'');
        if (target.text !== '/dev/null') throw new ShellSyntaxError(`redirecting to files is not supported by the lab: ${token.text} ${target.text}`);
        if (token.text !== '2>') command.stdout = 'discard';
        if (token.text === '2>' || token.text === '&>') command.stderr = 'discard';
        continue;
      }
      throw new ShellSyntaxError(`"${token.text}" is not supported by the lab`);
    }
    if (pipeline) {
      pipeline.push(token.text);
      continue;
    }
    const assignment = !token.quoted && command.words.length === 0 ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(token.text) : null;
    if (assignment) command.assignments.push([assignment[1]!, assignment[2]!]);
    else command.words.push(token.text);
  }
  return command;
}

function tokenize(line: string, vars: Map<string, string>): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let word = '';
  let inWord = false;
  let quoted = false;
  const endWord = () => {
    if (inWord) tokens.push({ kind: 'word', text: word, quoted });
    word = '';
    inWord = false;
    quoted = false;
  };
  const expand = (): string => {
    // At a "$": ${NAME} or $NAME; "$(" and "$((" are command substitution and arithmetic.
    const rest = line.slice(i + 1);
    if (rest.startsWith('(')) throw new ShellSyntaxError('command substitution $(...) is not supported by the lab');
    const braced = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest);
    const plain = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (braced) {
      i += braced[0].length + 1;
      return vars.get(braced[1]!) ?? '';
    }
    if (plain) {
      i += plain[0].length + 1;
      return vars.get(plain[0]) ?? '';
    }
    i += 1;
    return '$';
  };

  while (i < line.length) {
    const c = line[i]!;
    if (c === '#' && !inWord) break;
    if (c === ' ' || c === '\t') {
      endWord();
      i++;
      continue;
    }
    if (c === '`') throw new ShellSyntaxError('command substitution `...` is not supported by the lab');
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError('unexpected EOF while looking for matching `\'\'');
      word += line.slice(i + 1, end);
      inWord = true;
      quoted = true;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      inWord = true;
      quoted = true;
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === '$') {
          word += expand();
        } else if (line[i] === '`') {
          throw new ShellSyntaxError('command substitution `...` is not supported by the lab');
        } else {
          word += line[i];
          i++;
        }
      }
      if (i >= line.length) throw new ShellSyntaxError('unexpected EOF while looking for matching `"\'');
      i++;
      continue;
    }
    if (c === '\\' && i + 1 < line.length) {
      word += line[i + 1];
      inWord = true;
      i += 2;
      continue;
    }
    if (c === '$') {
      word += expand();
      inWord = true;
      continue;
    }
    const op = /^(2>&1|&&|\|\||&>|1>|2>|>>|[;|&<>()])/.exec(line.slice(i));
    if (op) {
      // "2>" only counts as a redirection at the start of a word, as in sh.
      if ((op[0].startsWith('2') || op[0].startsWith('1')) && inWord) {
        word += c;
        i++;
        continue;
      }
      endWord();
      if (op[0] === '>>' || op[0] === '<' || op[0] === '&' || op[0] === '(' || op[0] === ')') {
        throw new ShellSyntaxError(`"${op[0]}" is not supported by the lab`);
      }
      tokens.push({ kind: 'op', text: op[0] });
      i += op[0].length;
      continue;
    }
    word += c;
    inWord = true;
    i++;
  }
  endWord();
  return tokens;
}
