// A policy document as IAM stores it: JSON text whose statements are reported by position (as
// SimulatePrincipalPolicy's MatchedStatements do), read from what moto gives back.

export interface Position {
  line: number;
  column: number;
}

export interface Statement {
  value: Record<string, unknown>;
  start: Position;
  end: Position;
  /** Version of the document the statement belongs to: policy variables exist only in 2012-10-17. */
  version: string | undefined;
}

/**
 * The text of a stored policy document. IAM's query API returns documents URL-encoded, and moto
 * stores the inline policies of a CloudFormation `AWS::IAM::Role`'s `Policies` property as a Python
 * dict (`{'Version': '2012-10-17', ...}`) rather than JSON; both are turned back into JSON here.
 */
export function policyText(document: string | undefined): string {
  if (!document) return '{}';
  let text = document.trimStart();
  if (!text.startsWith('{')) text = decodeURIComponent(text).trimStart();
  return text.startsWith("{'") || text.startsWith('{ \'') ? pythonLiteralToJson(text) : text;
}

/** The statements of a policy with where each one starts and ends in the text (1-based). */
export function statementsOf(document: string): Statement[] {
  const root = new PositionedJson(document).parse();
  if (root.kind !== 'object') throw new SyntaxError('policy document is not a JSON object');
  const version = root.entries.get('Version')?.value;
  const statement = root.entries.get('Statement');
  if (!statement) return [];
  const nodes = statement.kind === 'array' ? statement.items : [statement];
  return nodes.map((n) => {
    if (n.kind !== 'object') throw new SyntaxError('a policy statement is not a JSON object');
    return { value: n.value as Record<string, unknown>, start: n.start, end: n.end, version: typeof version === 'string' ? version : undefined };
  });
}

/** Python's repr of a dict of strings, lists, booleans and None, as JSON (same layout, so positions barely move). */
function pythonLiteralToJson(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && j + 1 < text.length) {
          const next = text[j + 1]!;
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          j += 2;
        } else value += text[j++];
      }
      if (j >= text.length) throw new SyntaxError('unterminated string in a policy document');
      out += JSON.stringify(value);
      i = j + 1;
      continue;
    }
    const word = /^(True|False|None)\b/.exec(text.slice(i));
    if (word) {
      out += word[1] === 'True' ? 'true' : word[1] === 'False' ? 'false' : 'null';
      i += word[1]!.length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

type Node =
  | { kind: 'object'; value: unknown; entries: Map<string, Node>; start: Position; end: Position }
  | { kind: 'array'; value: unknown; items: Node[]; start: Position; end: Position }
  | { kind: 'scalar'; value: unknown; start: Position; end: Position };

/** A small JSON reader that remembers positions, which JSON.parse cannot give. */
class PositionedJson {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): Node {
    const node = this.value();
    this.ws();
    if (this.i < this.text.length) throw new SyntaxError('unexpected text after the policy document');
    return node;
  }

  private position(offset: number): Position {
    const before = this.text.slice(0, offset);
    const line = before.split('\n').length;
    return { line, column: offset - before.lastIndexOf('\n') };
  }

  private ws(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i]!)) this.i++;
  }

  private value(): Node {
    this.ws();
    const start = this.i;
    const c = this.text[this.i];
    if (c === '{') {
      this.i++;
      const entries = new Map<string, Node>();
      const value: Record<string, unknown> = {};
      this.ws();
      if (this.text[this.i] === '}') this.i++;
      else {
        for (;;) {
          this.ws();
          const key = this.string();
          this.ws();
          this.expect(':');
          const node = this.value();
          entries.set(key, node);
          value[key] = node.value;
          this.ws();
          if (this.text[this.i] === ',') this.i++;
          else {
            this.expect('}');
            break;
          }
        }
      }
      return { kind: 'object', value, entries, start: this.position(start), end: this.position(this.i) };
    }
    if (c === '[') {
      this.i++;
      const items: Node[] = [];
      this.ws();
      if (this.text[this.i] === ']') this.i++;
      else {
        for (;;) {
          items.push(this.value());
          this.ws();
          if (this.text[this.i] === ',') this.i++;
          else {
            this.expect(']');
            break;
          }
        }
      }
      return { kind: 'array', value: items.map((n) => n.value), items, start: this.position(start), end: this.position(this.i) };
    }
    if (c === '"') {
      const value = this.string();
      return { kind: 'scalar', value, start: this.position(start), end: this.position(this.i) };
    }
    const literal = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.i));
    if (!literal) throw new SyntaxError(`unexpected character at offset ${this.i}`);
    this.i += literal[0].length;
    return { kind: 'scalar', value: JSON.parse(literal[0]), start: this.position(start), end: this.position(this.i) };
  }

  private string(): string {
    if (this.text[this.i] !== '"') throw new SyntaxError(`expected a string at offset ${this.i}`);
    let j = this.i + 1;
    while (j < this.text.length && this.text[j] !== '"') j += this.text[j] === '\\' ? 2 : 1;
    if (j >= this.text.length) throw new SyntaxError('unterminated string');
    const raw = this.text.slice(this.i, j + 1);
    this.i = j + 1;
    return JSON.parse(raw) as string;
  }

  private expect(char: string): void {
    if (this.text[this.i] !== char) throw new SyntaxError(`expected "${char}" at offset ${this.i}`);
    this.i++;
  }
}
