// The built-ins declared by a spec (pipeline/lazy.ts) must load to the very
// definition built on that spec, or `stages` and `validate` would describe
// and check options other than the ones a run uses.
import test from 'ava';
import { builtinComponents } from '../../src/components.js';
import { isLazyComponent } from '../../src/pipeline/lazy.js';

test('every lazy built-in loads to the definition of its own spec', async (t) => {
  const lazy = builtinComponents.filter(isLazyComponent);
  t.deepEqual(lazy.map((d) => d.type).sort(), ['infer', 'refine', 'tensorify', 'train']);
  for (const def of lazy) {
    const impl = await def.load();
    t.is(impl.type, def.type);
    t.is(impl.kind, def.kind);
    t.is(impl.description, def.description);
    t.is(impl.options, def.options, `${def.type}: one options schema`);
    t.deepEqual(impl.accepts, def.accepts);
    t.is(impl.emits, def.emits);
    t.not(impl.create.bind(impl), def.create.bind(def));
    t.is(await def.load(), impl, 'loaded once');
  }
});
