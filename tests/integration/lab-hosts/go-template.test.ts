import { describe, expect, test } from 'vitest';
import { executeTemplate, goMap, parseTemplate, TemplateExecError, TemplateParseError, TemplateUnsupportedError } from '@/infra/lab/hosts/go-template';

// The Go text/template subset behind the lab's `docker inspect --format`: what it prints and how
// it fails, in Go's words (the positions follow text/template's ErrorContext: a single field is
// placed at its dot, a chain at its second field).

const container = {
  Id: 'abc123',
  State: { Status: 'running', Running: true, Pid: 4242, ExitCode: 0, Error: '', StartedAt: '2026-01-02T03:04:05.000Z', FinishedAt: '0001-01-01T00:00:00Z' },
  RestartCount: 2,
  Config: { Env: ['DATABASE_URL=postgresql://u:pw@h:5432/db', 'PATH=/usr/bin'], Image: 'linkbox-backend:latest', Labels: goMap({ b: '2', a: '1' }) },
};

const render = (format: string, data: unknown = container) => executeTemplate(parseTemplate(format), data);

describe('Go templates as docker inspect --format runs them', () => {
  test('fields, chains and literal text print with Go\'s %v', () => {
    expect(render('{{.State.Status}} {{.RestartCount}} {{.Config.Image}} {{.State.Running}}')).toBe('running 2 linkbox-backend:latest true');
    expect(render('{{.Config.Env}}')).toBe('[DATABASE_URL=postgresql://u:pw@h:5432/db PATH=/usr/bin]');
    expect(render('{{.Config.Labels}}')).toBe('map[a:1 b:2]');
    expect(render('{{.State}}')).toBe('{running true 4242 0  2026-01-02T03:04:05.000Z 0001-01-01T00:00:00Z}');
  });

  test('json prints the value as JSON, alone or inside a JSON object built by the format', () => {
    expect(JSON.parse(render('{{json .State}}'))).toEqual(container.State);
    expect(JSON.parse(render('{{json .Config.Env}}'))).toEqual(container.Config.Env);
    const object = render('{"status":{{json .State.Status}},"restarts":{{.RestartCount}},"startedAt":{{json .State.StartedAt}},"image":{{json .Config.Image}}}');
    expect(JSON.parse(object)).toEqual({ status: 'running', restarts: 2, startedAt: '2026-01-02T03:04:05.000Z', image: 'linkbox-backend:latest' });
  });

  test('pipelines, functions, range, if/else and trim markers', () => {
    expect(render('{{.State.Status | upper}}')).toBe('RUNNING');
    expect(render('{{join .Config.Env ","}}')).toBe('DATABASE_URL=postgresql://u:pw@h:5432/db,PATH=/usr/bin');
    expect(render('{{range .Config.Env}}{{println .}}{{end}}')).toBe('DATABASE_URL=postgresql://u:pw@h:5432/db\nPATH=/usr/bin\n');
    expect(render('{{if eq .State.Status "running"}}up{{else}}down{{end}}')).toBe('up');
    expect(render('{{if .State.ExitCode}}failed{{else if .State.Running}}up{{end}}')).toBe('up');
    expect(render('a   {{- .RestartCount -}}   b')).toBe('a2b');
    expect(render('{{index .Config.Labels "a"}} {{len .Config.Env}}')).toBe('1 2');
  });

  test('an unknown field fails as docker\'s map fallback does, with the position and context Go gives', () => {
    expect(() => render('{{.Foo}}')).toThrow(new TemplateExecError('template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'));
    expect(() => render('{{.State.Health.Status}}')).toThrow(new TemplateExecError('template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health"'));
    expect(() => render('{{ .Name }}')).toThrow(new TemplateExecError('template: :1:3: executing "" at <.Name>: map has no entry for key "Name"'));
    expect(() => render('{{.Container.Spec.Image}}')).toThrow(new TemplateExecError('template: :1:12: executing "" at <.Container.Spec.Imag...>: map has no entry for key "Container"'));
  });

  test('a template that does not parse is a parse error, and what the lab lacks says so', () => {
    expect(() => parseTemplate('{{.State.Status')).toThrow(new TemplateParseError('template: :1: unclosed action'));
    expect(() => parseTemplate('{{nope .State}}')).toThrow(new TemplateParseError('template: :1: function "nope" not defined'));
    expect(() => parseTemplate('{{if .State.Running}}up')).toThrow(new TemplateParseError('template: :1: unexpected EOF'));
    expect(() => parseTemplate('{{range $e := .Config.Env}}{{$e}}{{end}}')).toThrow(TemplateUnsupportedError);
  });
});
