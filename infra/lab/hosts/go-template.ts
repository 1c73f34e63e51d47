// The part of Go's text/template that `docker inspect --format` and `docker ps --format` users
// write: fields and chains (`.State.Status`), pipelines (`.Config.Env | json`), docker's functions
// (json, join, split, lower, upper, title, println, ...) and Go's builtins (index, len, eq, ...),
// `if`/`else`/`range`/`with` blocks and `{{-`/`-}}` trimming. Errors carry Go's own wording and
// positions (`template: :1:8: executing "" at <.State.Foo>: map has no entry for key "Foo"`), since
// scripts and people match on them. Anything else (variables, parenthesised pipelines, `define`)
// is a TemplateUnsupportedError: the lab says so rather than print something Docker would not.

/** Marks an object that Go holds as a map (Labels, Ports), printed `map[k:v]`; other objects are structs, printed `{v v}`. */
export const GO_MAP: unique symbol = Symbol('go map');

export function goMap<T extends object>(value: T): T {
  Object.defineProperty(value, GO_MAP, { value: true, enumerable: false });
  return value;
}

/** The template does not parse; docker exits 64. */
export class TemplateParseError extends Error {}
/** The template failed while executing on a value; docker exits 1. */
export class TemplateExecError extends Error {}
/** Valid Go, but beyond what the lab implements. */
export class TemplateUnsupportedError extends Error {}

type Value = unknown;

interface Field {
  kind: 'field';
  pos: number;
  /** Empty for `.` itself. */
  names: string[];
}
type Operand = Field | { kind: 'literal'; value: Value } | { kind: 'ident'; name: string; pos: number };
interface Command {
  args: Operand[];
}
interface Pipeline {
  commands: Command[];
}
type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with' | 'range'; pipe: Pipeline; then: TemplateNode[]; otherwise: TemplateNode[] };

export interface Template {
  nodes: TemplateNode[];
  source: string;
}

export interface ExecuteOptions {
  /** What a missing field on a struct says; docker inspect falls back to a map (`map has no entry for key`). */
  missingField?: (name: string) => string;
}

// ---- lexing ----

type Token =
  | { t: 'field'; text: string; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'ident'; text: string; pos: number }
  | { t: 'string'; value: string; pos: number }
  | { t: 'number'; value: number; pos: number }
  | { t: 'pipe'; pos: number };

type Piece = { kind: 'text'; text: string } | { kind: 'action'; tokens: Token[]; pos: number };

function lex(source: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = open < 0 ? source.slice(i) : source.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let j = open + 2;
    if (source.startsWith('- ', j) || source.startsWith('-\t', j) || source.startsWith('-\n', j)) {
      text = text.replace(/\s+$/, '');
      j += 1;
    }
    if (text) pieces.push({ kind: 'text', text });
    const tokens: Token[] = [];
    for (;;) {
      while (j < source.length && /[ \t\r\n]/.test(source[j]!)) j++;
      if (j >= source.length) throw new TemplateParseError('template: :1: unclosed action');
      if (source.startsWith('}}', j)) {
        j += 2;
        break;
      }
      if (source.startsWith('-}}', j) && /\s/.test(source[j - 1] ?? '')) {
        trimNext = true;
        j += 3;
        break;
      }
      const c = source[j]!;
      const pos = j;
      if (c === '|') {
        tokens.push({ t: 'pipe', pos });
        j++;
      } else if (c === '.') {
        const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(j));
        if (m) {
          tokens.push({ t: 'field', text: m[0].slice(1), pos });
          j += m[0].length;
        } else {
          tokens.push({ t: 'dot', pos });
          j++;
        }
      } else if (c === '"' || c === '`') {
        const [value, end] = readString(source, j);
        tokens.push({ t: 'string', value, pos });
        j = end;
      } else if (/[-+0-9]/.test(c)) {
        const m = /^[-+]?\d+(\.\d+)?/.exec(source.slice(j));
        if (!m) throw new TemplateParseError(`template: :1: bad number syntax: "${c}"`);
        tokens.push({ t: 'number', value: Number(m[0]), pos });
        j += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(j))!;
        tokens.push({ t: 'ident', text: m[0], pos });
        j += m[0].length;
      } else if (c === '$' || c === '(' || c === ')' || c === ':' || c === '=' || c === ',') {
        throw new TemplateUnsupportedError(`lab: this --format template uses "${c}" (variables or parenthesised pipelines), which the lab does not support`);
      } else if (c === '/' && source.startsWith('/*', j)) {
        throw new TemplateUnsupportedError('lab: this --format template uses a comment, which the lab does not support');
      } else {
        throw new TemplateParseError(`template: :1: unexpected "${c}" in command`);
      }
    }
    pieces.push({ kind: 'action', tokens, pos: open });
    i = j;
  }
  return pieces;
}

function readString(source: string, start: number): [string, number] {
  const quote = source[start]!;
  let j = start + 1;
  let out = '';
  while (j < source.length && source[j] !== quote) {
    if (quote === '"' && source[j] === '\\') {
      const next = source[j + 1];
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next === '\\' ? '\\' : next === '"' ? '"' : `\\${next ?? ''}`;
      j += 2;
    } else {
      out += source[j];
      j++;
    }
  }
  if (j >= source.length) throw new TemplateParseError('template: :1: unterminated quoted string');
  return [out, j + 1];
}

// ---- parsing ----

const FUNCTIONS = new Set(['json', 'join', 'split', 'lower', 'upper', 'title', 'println', 'print', 'printf', 'index', 'len', 'eq', 'ne', 'not', 'and', 'or', 'truncate', 'pad']);
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

export function parseTemplate(source: string): Template {
  const pieces = lex(source);
  let at = 0;
  const parseList = (inBlock: boolean): { nodes: TemplateNode[]; stop: 'end' | 'else' | 'eof'; elseTokens?: Token[] } => {
    const nodes: TemplateNode[] = [];
    while (at < pieces.length) {
      const piece = pieces[at++]!;
      if (piece.kind === 'text') {
        nodes.push({ kind: 'text', text: piece.text });
        continue;
      }
      const [first, ...rest] = piece.tokens;
      if (!first) throw new TemplateParseError('template: :1: missing value for command');
      if (first.t === 'ident' && KEYWORDS.has(first.text)) {
        const keyword = first.text;
        if (keyword === 'end') {
          if (!inBlock) throw new TemplateParseError('template: :1: unexpected {{end}}');
          return { nodes, stop: 'end' };
        }
        if (keyword === 'else') {
          if (!inBlock) throw new TemplateParseError('template: :1: unexpected {{else}}');
          return { nodes, stop: 'else', elseTokens: rest };
        }
        if (keyword === 'if' || keyword === 'with' || keyword === 'range') {
          nodes.push(parseBlock(keyword, rest));
          continue;
        }
        throw new TemplateUnsupportedError(`lab: this --format template uses {{${keyword}}}, which the lab does not support`);
      }
      nodes.push({ kind: 'action', pipe: parsePipeline(piece.tokens) });
    }
    if (inBlock) throw new TemplateParseError('template: :1: unexpected EOF');
    return { nodes, stop: 'eof' };
  };
  const parseBlock = (keyword: 'if' | 'with' | 'range', tokens: Token[]): TemplateNode => {
    if (tokens.length === 0) throw new TemplateParseError(`template: :1: missing value for ${keyword}`);
    const pipe = parsePipeline(tokens);
    const body = parseList(true);
    let otherwise: TemplateNode[] = [];
    if (body.stop === 'else') {
      const elseTokens = body.elseTokens ?? [];
      if (elseTokens.length > 0) {
        // `{{else if x}}` / `{{else with x}}`: a nested block that shares this block's {{end}}.
        const [kw, ...more] = elseTokens;
        if (kw?.t !== 'ident' || (kw.text !== 'if' && kw.text !== 'with')) throw new TemplateParseError('template: :1: unexpected token in else');
        otherwise = [parseBlock(kw.text, more)];
      } else {
        const tail = parseList(true);
        if (tail.stop !== 'end') throw new TemplateParseError('template: :1: expected end; found {{else}}');
        otherwise = tail.nodes;
      }
    }
    return { kind: keyword, pipe, then: body.nodes, otherwise };
  };
  const parsePipeline = (tokens: Token[]): Pipeline => {
    const commands: Command[] = [];
    let current: Operand[] = [];
    for (let k = 0; k < tokens.length; k++) {
      const token = tokens[k]!;
      if (token.t === 'pipe') {
        if (current.length === 0) throw new TemplateParseError('template: :1: missing value for command');
        commands.push({ args: current });
        current = [];
        continue;
      }
      if (token.t === 'field') {
        // Go positions a chain (.A.B) at its second field, a single field at itself.
        const names = [token.text];
        let pos = token.pos;
        let end = token.pos + 1 + token.text.length;
        for (let next = tokens[k + 1]; next?.t === 'field' && next.pos === end; next = tokens[k + 1]) {
          if (names.length === 1) pos = next.pos;
          names.push(next.text);
          end = next.pos + 1 + next.text.length;
          k++;
        }
        current.push({ kind: 'field', pos, names });
      } else if (token.t === 'dot') current.push({ kind: 'field', pos: token.pos, names: [] });
      else if (token.t === 'string' || token.t === 'number') current.push({ kind: 'literal', value: token.value });
      else if (token.t === 'ident') {
        if (token.text === 'true' || token.text === 'false') current.push({ kind: 'literal', value: token.text === 'true' });
        else if (token.text === 'nil') current.push({ kind: 'literal', value: null });
        else if (!FUNCTIONS.has(token.text)) throw new TemplateParseError(`template: :1: function "${token.text}" not defined`);
        else current.push({ kind: 'ident', name: token.text, pos: token.pos });
      }
    }
    if (current.length === 0) throw new TemplateParseError('template: :1: missing value for command');
    commands.push({ args: current });
    return { commands };
  };
  const { nodes } = parseList(false);
  return { nodes, source };
}

// ---- execution ----

export function executeTemplate(template: Template, data: Value, options: ExecuteOptions = {}): string {
  const missingField = options.missingField ?? ((name: string) => `map has no entry for key "${name}"`);
  const fail = (pos: number, at: string, message: string): never => {
    throw new TemplateExecError(`template: ${location(template.source, pos)}: executing "" at <${cut(at)}>: ${message}`);
  };

  const evalField = (dot: Value, node: Field): Value => {
    let value = dot;
    for (const name of node.names) {
      if (isMap(value)) {
        value = Object.prototype.hasOwnProperty.call(value, name) ? (value as Record<string, Value>)[name] : undefined;
      } else if (isStruct(value)) {
        if (!Object.prototype.hasOwnProperty.call(value, name)) fail(node.pos, fieldText(node), missingField(name));
        value = (value as Record<string, Value>)[name];
      } else if (value === null || value === undefined) {
        fail(node.pos, fieldText(node), `nil pointer evaluating interface {}.${name}`);
      } else {
        fail(node.pos, fieldText(node), `can't evaluate field ${name} in type ${goType(value)}`);
      }
    }
    return value;
  };

  const evalOperand = (dot: Value, operand: Operand): Value => {
    if (operand.kind === 'field') return evalField(dot, operand);
    if (operand.kind === 'literal') return operand.value;
    return callFunction(operand.name, [], operand);
  };

  const callFunction = (name: string, args: Value[], at: { pos: number }): Value => {
    const failCall = (message: string): never => fail(at.pos, name, `error calling ${name}: ${message}`);
    const wrongType = (what: string, got: Value): never => failCall(`wrong type for value; expected ${what}; got ${goType(got)}`);
    const str = (v: Value) => (typeof v === 'string' ? v : wrongType('string', v));
    switch (name) {
      case 'json':
        return JSON.stringify(args[0] ?? null);
      case 'lower':
        return str(args[0]).toLowerCase();
      case 'upper':
        return str(args[0]).toUpperCase();
      case 'title':
        return str(args[0]).replace(/\b([a-z])/g, (m) => m.toUpperCase());
      case 'join': {
        const list = args[0];
        if (!Array.isArray(list)) return wrongType('[]string', list);
        return list.map(String).join(str(args[1]));
      }
      case 'split':
        return str(args[0]).split(str(args[1]));
      case 'truncate': {
        const s = str(args[0]);
        return s.slice(0, Number(args[1]));
      }
      case 'pad':
        return `${' '.repeat(Number(args[1]))}${str(args[0])}${' '.repeat(Number(args[2]))}`;
      case 'println':
        return `${args.map(printValue).join(' ')}\n`;
      case 'print':
        return args.map((a, k) => (k > 0 && typeof a !== 'string' && typeof args[k - 1] !== 'string' ? ' ' : '') + printValue(a)).join('');
      case 'printf':
        return sprintf(str(args[0]), args.slice(1));
      case 'len':
        if (typeof args[0] === 'string' || Array.isArray(args[0])) return args[0].length;
        if (isMap(args[0])) return Object.keys(args[0] as object).length;
        return failCall(`len of type ${goType(args[0])}`);
      case 'index': {
        let value = args[0];
        for (const key of args.slice(1)) {
          if (Array.isArray(value) && typeof key === 'number') {
            if (key < 0 || key >= value.length) failCall(`index out of range: ${key}`);
            value = value[key];
          } else if (value && typeof value === 'object' && typeof key === 'string') value = (value as Record<string, Value>)[key] ?? null;
          else failCall(`cannot index slice/array with type ${goType(key)}`);
        }
        return value;
      }
      case 'eq':
        return args.slice(1).some((a) => a === args[0]);
      case 'ne':
        return args[0] !== args[1];
      case 'not':
        return !truthy(args[0]);
      case 'and': {
        for (const a of args) if (!truthy(a)) return a;
        return args[args.length - 1];
      }
      case 'or': {
        for (const a of args) if (truthy(a)) return a;
        return args[args.length - 1];
      }
      default:
        throw new TemplateParseError(`template: :1: function "${name}" not defined`);
    }
  };

  const evalPipeline = (dot: Value, pipe: Pipeline): Value => {
    let previous: Value;
    let first = true;
    for (const command of pipe.commands) {
      const [head, ...rest] = command.args;
      const piped = first ? [] : [previous];
      if (head!.kind === 'ident') {
        previous = callFunction(head!.name, [...rest.map((a) => evalOperand(dot, a)), ...piped], head!);
      } else {
        if (rest.length > 0 || piped.length > 0) {
          const pos = head!.kind === 'field' ? head!.pos : 0;
          fail(pos, head!.kind === 'field' ? fieldText(head!) : printValue(head!.value), `can't give argument to non-function ${head!.kind === 'field' ? fieldText(head!) : printValue(head!.value)}`);
        }
        previous = evalOperand(dot, head!);
      }
      first = false;
    }
    return previous;
  };

  const run = (nodes: TemplateNode[], dot: Value): string => {
    let out = '';
    for (const node of nodes) {
      if (node.kind === 'text') out += node.text;
      else if (node.kind === 'action') out += printValue(evalPipeline(dot, node.pipe));
      else {
        const value = evalPipeline(dot, node.pipe);
        if (node.kind === 'if') out += run(truthy(value) ? node.then : node.otherwise, dot);
        else if (node.kind === 'with') out += truthy(value) ? run(node.then, value) : run(node.otherwise, dot);
        else {
          const items = Array.isArray(value) ? value : isMap(value) ? Object.keys(value as object).sort().map((k) => (value as Record<string, Value>)[k]) : null;
          if (items === null && value !== null && value !== undefined) {
            throw new TemplateExecError(`template: :1: range can't iterate over ${printValue(value)}`);
          }
          if (!items || items.length === 0) out += run(node.otherwise, dot);
          else for (const item of items) out += run(node.then, item);
        }
      }
    }
    return out;
  };

  return run(template.nodes, data);
}

/** How Go's fmt prints a value with %v, as text/template does for `{{.X}}`. */
export function printValue(value: Value): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(printValue).join(' ')}]`;
  const record = value as Record<string, Value>;
  if (isMap(value)) {
    return `map[${Object.keys(record)
      .sort()
      .map((k) => `${k}:${printValue(record[k])}`)
      .join(' ')}]`;
  }
  return `{${Object.values(record).map(printValue).join(' ')}}`;
}

function sprintf(format: string, args: Value[]): string {
  let k = 0;
  return format.replace(/%([%sdvqt])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[k++];
    if (arg === undefined) return `%!${verb}(MISSING)`;
    if (verb === 'q') return JSON.stringify(typeof arg === 'string' ? arg : printValue(arg));
    return printValue(arg);
  });
}

function truthy(value: Value): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value as object).length > 0;
  return true;
}

function isMap(value: Value): boolean {
  return !!value && typeof value === 'object' && !Array.isArray(value) && (value as { [GO_MAP]?: boolean })[GO_MAP] === true;
}

function isStruct(value: Value): boolean {
  return !!value && typeof value === 'object' && !Array.isArray(value) && !isMap(value);
}

function goType(value: Value): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return '[]interface {}';
  if (value === null || value === undefined) return '<nil>';
  return 'map[string]interface {}';
}

/** Go's ErrorContext location: line, and the byte offset within it. */
function location(source: string, pos: number): string {
  const before = source.slice(0, pos);
  const lastNewline = before.lastIndexOf('\n');
  const line = 1 + (before.match(/\n/g)?.length ?? 0);
  return `:${line}:${lastNewline < 0 ? pos : pos - (lastNewline + 1)}`;
}

function fieldText(node: Field): string {
  return node.names.length ? `.${node.names.join('.')}` : '.';
}

/** Go's ErrorContext shows the node as written, cut at 20 characters. */
function cut(text: string): string {
  return text.length > 20 ? `${text.slice(0, 20)}...` : text;
}
