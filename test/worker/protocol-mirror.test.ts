// protocol.py mirrors src/worker/protocol.ts: the same commands and events, with the same required and
// optional fields (read from the TypeScript interfaces and from the Python tables).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, testPython } from './helpers.ts';
import { LEVER_VALUES } from '../../src/worker/protocol.ts';
import { ATTENTIONS, OFFLOADS, OPTIMIZERS, PRECISIONS } from '../../src/memory/index.ts';

const python = await testPython();

type Fields = Record<string, { required: string[]; optional: string[] }>;

/** Top-level members of `export interface NAME [extends …] { … }` in `src`. */
function members(
  src: string,
  name: string,
): { body: string; extends?: string; list: Array<{ name: string; optional: boolean }> } {
  const m = new RegExp(`export interface ${name}(?: extends (\\w+))? \\{([\\s\\S]*?)\\n?\\}\\n`).exec(src)!;
  // Top-level members only: drop nested object types and comments first.
  const flat = m[2]
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/\{[^{}]*\}/g, '{}')
    .replace(/\{[^{}]*\}/g, '{}');
  return {
    body: m[2],
    extends: m[1],
    list: [...flat.matchAll(/(?:^|[;\n{])\s*(\w+)(\?)?:/g)].map((x) => ({
      name: x[1],
      optional: x[2] === '?',
    })),
  };
}

/** Fields of every `interface X { type: 'kind'; ... }` in protocol.ts, by kind and union (commands/events). */
function tsTables(): { commands: Fields; events: Fields } {
  const src = ['protocol.ts', 'protocol-events.ts']
    .map((f) => readFileSync(join(REPO, 'src/worker', f), 'utf8'))
    .join('\n');
  // `load`'s lever fields are the lever table's LoadLevers (LoadLeverFields keeps their names, nesting the optimizer).
  const leverFields = members(
    readFileSync(join(REPO, 'src/memory/lever-types.ts'), 'utf8'),
    'LoadLevers',
  ).list;
  const unions = (name: string): string[] =>
    [...new RegExp(`export type ${name} =([^;]+);`).exec(src)![1].matchAll(/(\w+)/g)].map((m) => m[1]);
  const table = (names: string[]): Fields => {
    const out: Fields = {};
    for (const name of names) {
      const own = members(src, name);
      assert.ok(
        !own.extends || own.extends === 'LoadLeverFields',
        `${name} extends ${own.extends}: teach this test to read it`,
      );
      const fields = [...own.list, ...(own.extends ? leverFields : [])];
      const kind = /type: '([a-z_]+)'/.exec(own.body)![1];
      out[kind] = {
        required: fields
          .filter((m) => !m.optional && m.name !== 'type')
          .map((m) => m.name)
          .sort(),
        optional: fields
          .filter((m) => m.optional)
          .map((m) => m.name)
          .sort(),
      };
    }
    return out;
  };
  return { commands: table(unions('WorkerCommand')), events: table(unions('WorkerEvent')) };
}

test(
  'protocol.py has exactly the commands, events and fields of protocol.ts',
  { skip: !python && 'needs python3' },
  () => {
    const script =
      'import json; from refit_worker import protocol as p; ' +
      'f = lambda t: {k: {"required": sorted(r), "optional": sorted(o)} for k, (r, o) in t.items()}; ' +
      'print(json.dumps({"commands": f(p.COMMANDS), "events": f(p.EVENTS), "version": p.PROTOCOL_VERSION}))';
    const run = spawnSync(python!, ['-c', script], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    const py = JSON.parse(run.stdout) as { commands: Fields; events: Fields; version: number };
    const ts = tsTables();
    assert.deepEqual(py.commands, ts.commands);
    assert.deepEqual(py.events, ts.events);
    assert.equal(
      py.version,
      Number(/PROTOCOL_VERSION = (\d+)/.exec(readFileSync(join(REPO, 'src/worker/protocol.ts'), 'utf8'))![1]),
    );
  },
);

test(
  "protocol.py has the lever values of protocol.ts (the lever table's)",
  { skip: !python && 'needs python3' },
  () => {
    const script = 'import json; from refit_worker import protocol as p; print(json.dumps(p.LEVER_VALUES))';
    const run = spawnSync(python!, ['-c', script], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(run.stdout), JSON.parse(JSON.stringify(LEVER_VALUES)));
    assert.deepEqual(LEVER_VALUES, {
      precision: PRECISIONS,
      attention: ATTENTIONS,
      optimizer: OPTIMIZERS,
      offload: OFFLOADS,
    });
  },
);
