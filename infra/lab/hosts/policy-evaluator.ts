// IAM's identity-policy evaluation, reduced to what the lab needs to answer "may this role do X to
// Y?": an explicit Deny wins, else any Allow allows, else the request is implicitly denied.
// Action names match case-insensitively, resources case-sensitively, both with `*` and `?`.
// A statement with a Condition is not applied (no request context is simulated); its keys are
// reported as missing context values, as IAM's simulator does when they are not supplied.

export type PolicySourceType = 'user' | 'group' | 'role' | 'aws-managed' | 'user-managed' | 'resource' | 'none';

export interface PolicySource {
  id: string;
  type: PolicySourceType;
  /** The policy document as JSON text (positions in MatchedStatements refer to it). */
  document: string;
}

export interface Position {
  line: number;
  column: number;
}

export interface MatchedStatement {
  sourcePolicyId: string;
  sourcePolicyType: PolicySourceType;
  start: Position;
  end: Position;
}

export type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface Evaluation {
  decision: EvalDecision;
  matched: MatchedStatement[];
  missingContextValues: string[];
}

interface Statement {
  value: Record<string, unknown>;
  start: Position;
  end: Position;
}

export function evaluate(sources: PolicySource[], action: string, resource: string): Evaluation {
  const allows: MatchedStatement[] = [];
  const denies: MatchedStatement[] = [];
  const missing = new Set<string>();
  for (const source of sources) {
    for (const statement of statementsOf(source.document)) {
      const s = statement.value;
      if (!matchesAction(s, action) || !matchesResource(s, resource)) continue;
      if (s.Condition && typeof s.Condition === 'object') {
        for (const operator of Object.values(s.Condition as Record<string, unknown>)) {
          if (operator && typeof operator === 'object') Object.keys(operator).forEach((k) => missing.add(k));
        }
        continue;
      }
      const ref = { sourcePolicyId: source.id, sourcePolicyType: source.type, start: statement.start, end: statement.end };
      if (s.Effect === 'Deny') denies.push(ref);
      else if (s.Effect === 'Allow') allows.push(ref);
    }
  }
  if (denies.length > 0) return { decision: 'explicitDeny', matched: denies, missingContextValues: [...missing] };
  if (allows.length > 0) return { decision: 'allowed', matched: allows, missingContextValues: [...missing] };
  return { decision: 'implicitDeny', matched: [], missingContextValues: [...missing] };
}

function matchesAction(s: Record<string, unknown>, action: string): boolean {
  if (s.Action !== undefined) return list(s.Action).some((p) => wildcard(p, action, true));
  if (s.NotAction !== undefined) return !list(s.NotAction).some((p) => wildcard(p, action, true));
  return false;
}

function matchesResource(s: Record<string, unknown>, resource: string): boolean {
  if (s.Resource !== undefined) return list(s.Resource).some((p) => wildcard(p, resource, false));
  if (s.NotResource !== undefined) return !list(s.NotResource).some((p) => wildcard(p, resource, false));
  return false;
}

function list(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** IAM's `*` (any run of characters, across ":" and "/") and `?` (one character). */
export function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

/** The statements of a policy with where each one starts and ends in the text (1-based). */
export function statementsOf(document: string): Statement[] {
  const root = new PositionedJson(document).parse();
  if (!root || root.kind !== 'object') throw new SyntaxError('policy document is not a JSON object');
  const statement = root.entries.get('Statement');
  if (!statement) return [];
  const nodes = statement.kind === 'array' ? statement.items : [statement];
  return nodes
    .filter((n): n is Extract<Node, { kind: 'object' }> => n.kind === 'object')
    .map((n) => ({ value: n.value as Record<string, unknown>, start: n.start, end: n.end }));
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
