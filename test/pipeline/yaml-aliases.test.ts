// YAML aliases in pipeline files: a legitimate file with a hundred aliases
// loads (yaml's default limit of 100 threw a ReferenceError with a stack), and
// an exponential "billion laughs" document is a typed PipelineFileError.
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';

const base = `backend: cpu
sources:
  scan: { type: simulate, N: 16, object: { kind: image, size: 48 }, scan: { step: 4 } }
sinks:
  out: { type: write-npz, inputs: [scan] }
`;

test('a file with 150 aliases loads; a billion-laughs document is a typed error', async (t) => {
  const stages = Array.from({ length: 150 }, (_, i) => `  t${i}: { type: normalize, inputs: ${i === 0 ? '&in [scan]' : '*in'} }`).join('\n');
  const many = `${base}transforms:\n${stages}\n`;
  const plan = await loadPlan('many.yaml', { registry: builtinRegistry(), text: many });
  t.is(plan.streams.length, 151);
  const laughs = [`${base}x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]`];
  for (let i = 1; i < 9; i++) laughs.push(`x${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  const e2 = await t.throwsAsync(loadPlan('laughs.yaml', { registry: builtinRegistry(), text: laughs.join('\n') + '\n' }), { name: 'PipelineFileError' });
  t.is((e2 as { code?: string }).code, 'PIPELINE_YAML');
});
