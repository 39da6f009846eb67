// The HDF5 reader thread of the `hdf5` source (hdf5.ts). Plain JavaScript, run
// in a worker started without the tsx loader: loaded through tsx, h5wasm's
// 4 MB Emscripten glue (it contains a dynamic import, which tsx rewrites) costs
// about 1.5 s and 600 MB at every start; here it loads in 0.15 s. It also
// keeps HDF5's synchronous reads off the main thread.
//
// Requests (postMessage): { id, op, ...args }; replies: { id, result } or
// { id, error }. Typed arrays in replies are transferred (copied out first only
// when they are views into h5wasm's own memory).
//   open   { path }                  → { handle, datasets: {path: {shape, dtype, cls, complex}}, groups: [path] }
//   value  { handle, key }           → the whole dataset: a typed array, a number, or [[re, im], …] for complex
//   slice  { handle, key, first, count } → rows first..first+count−1 along axis 0, as a typed array or pairs
//   close  { handle }
import { parentPort } from 'node:worker_threads';

const lib = (await import('h5wasm/node')).default;
const module = await lib.ready;
// HDF5 errors throw (with HDF5's diagnostic) instead of printing to stderr.
module.activate_throwing_error_handler();

const files = new Map();
let nextHandle = 1;

function describe(f) {
  const datasets = {};
  const groups = [];
  const walk = (g, prefix) => {
    for (const k of g.keys()) {
      const o = g.get(k);
      const name = prefix === '' ? k : `${prefix}/${k}`;
      if (o instanceof lib.Group) {
        groups.push(name);
        walk(o, name);
      } else if (o instanceof lib.Dataset) {
        const m = o.metadata;
        datasets[name] = {
          shape: [...(o.shape ?? [])],
          dtype: typeof o.dtype === 'string' ? o.dtype : JSON.stringify(o.dtype),
          cls: m.type,
          complex: m.type === 6 && m.compound_type?.nmembers === 2,
        };
      }
    }
  };
  walk(f, '');
  return { datasets, groups };
}

function dataset(handle, key) {
  const f = files.get(handle);
  if (f === undefined) throw new Error('the file is closed');
  const d = f.get(key);
  if (!(d instanceof lib.Dataset)) throw new Error(`no dataset '${key}'`);
  return d;
}

function reply(id, value) {
  // h5wasm may hand back a view into its own memory, which cannot be transferred: copy it out first.
  const result = ArrayBuffer.isView(value) && value.buffer === module.HEAPU8.buffer ? value.slice() : value;
  const transfer = ArrayBuffer.isView(result) ? [result.buffer] : [];
  parentPort.postMessage({ id, result }, transfer);
}

parentPort.on('message', (msg) => {
  const { id, op } = msg;
  try {
    if (op === 'open') {
      const f = new lib.File(msg.path, 'r');
      const handle = nextHandle++;
      files.set(handle, f);
      reply(id, { handle, ...describe(f) });
    } else if (op === 'value') {
      reply(id, dataset(msg.handle, msg.key).value);
    } else if (op === 'slice') {
      reply(id, dataset(msg.handle, msg.key).slice([[msg.first, msg.first + msg.count]]));
    } else if (op === 'close') {
      files.get(msg.handle)?.close();
      files.delete(msg.handle);
      reply(id, null);
    } else {
      throw new Error(`unknown request '${op}'`);
    }
  } catch (e) {
    parentPort.postMessage({ id, error: String(e instanceof Error ? e.message : e) });
  }
});
