// What to do when a plugin module does not load: the hint of the
// PLUGIN_LOAD error. TypeScript plugins need a loader on Node 20 (Node
// strips types itself from 22.18 and 23.6 on), and a .ts file with ES module
// syntax in a CommonJS project is compiled to require() calls by loaders.
const TS_EXT = /\.(ts|mts|cts)$/i;

export function nodeStripsTypes(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
}

export function pluginLoadHint(spec: string, isPath: boolean, error: unknown, version = process.versions.node): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (TS_EXT.test(spec) && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    if (nodeStripsTypes(version))
      return 'Node strips types only outside node_modules: ship the plugin compiled to .js/.mjs, or run with a TypeScript loader (`npm install -D tsx`, `NODE_OPTIONS="--import tsx"`)';
    return (
      'this Node cannot load TypeScript by itself: run with a TypeScript loader ' +
      '(`npm install -D tsx`, then `node --import tsx node_modules/.bin/ptychoflow …` or `NODE_OPTIONS="--import tsx"`), ' +
      `use Node ≥ 22.18 (it strips types itself), or compile the plugin to .js/.mjs (this Node is ${version})`
    );
  }
  if (/require\(\) (of )?ES Module|ERR_REQUIRE_ESM|ERR_REQUIRE_CYCLE_MODULE|Cannot use import statement outside a module/i.test(`${String(code)} ${message}`)) {
    return 'the plugin was loaded as CommonJS: name it .mjs (or .mts), or set "type": "module" in the package.json next to it';
  }
  return isPath ? 'check the path (relative to the pipeline file)' : 'install the package next to ptychoflow';
}
