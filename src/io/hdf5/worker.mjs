// The HDF5 reader thread (reader.ts starts it), shared by every open file. Plain JavaScript, run
// in a worker started without the tsx loader: loaded through tsx, h5wasm's
// 4 MB Emscripten glue (it contains a dynamic import, which tsx rewrites) costs
// about 1.5 s and 600 MB at every start; here it loads in 0.15 s. It also
// keeps HDF5's synchronous reads off the main thread.
//
// Requests (postMessage): { id, op, ...args }; replies: { id, result } or
// { id, error }. Typed arrays in replies are transferred (copied out first only
// when they are views into h5wasm's own memory).
//   open   { path, allowExternal }   → { handle, datasets: {path: {shape, dtype, cls, complex}}, groups: [path] }
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

// Walk bounds: a hard-link cycle makes the tree infinite (deep, or wide when a
// group links back more than once); real scan files are a few levels deep.
const MAX_DEPTH = 32;
const MAX_OBJECTS = 100_000;

function describe(f, allowExternal) {
  const datasets = {};
  const groups = [];
  let objects = 0;
  const walk = (g, prefix, depth) => {
    if (depth > MAX_DEPTH) throw new Error(`HDF5_STRUCTURE: groups nest deeper than ${MAX_DEPTH} levels at '${prefix}' (a link cycle?)`);
    for (const k of g.keys()) {
      if (++objects > MAX_OBJECTS) throw new Error(`HDF5_STRUCTURE: more than ${MAX_OBJECTS} objects (a link cycle?)`);
      const name = prefix === '' ? k : `${prefix}/${k}`;
      // Asked before get(): getting a resolvable external link follows it into the other file.
      const link = allowExternal ? undefined : f.get_external_link(`/${name}`);
      if (link?.filename !== undefined) {
        throw new Error(`HDF5_EXTERNAL_LINK: '${name}' links into another file (${link.filename}); refused unless allow.hdf5_external_links`);
      }
      const o = g.get(k);
      if (o instanceof lib.Group) {
        groups.push(name);
        walk(o, name, depth + 1);
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
  walk(f, '', 0);
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
      try {
        reply(id, { handle, ...describe(f, msg.allowExternal === true) });
      } catch (e) {
        f.close();
        files.delete(handle);
        throw e;
      }
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
