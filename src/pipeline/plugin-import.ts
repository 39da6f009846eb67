// Imports a plugin module. A TypeScript plugin (.ts/.mts/.cts) goes through
// tsx's `tsImport` when tsx can be resolved: Node 20 cannot load TypeScript by
// itself, and an installed ptychoflow runs compiled JavaScript with no loader
// registered, so a `.ts` plugin next to a pipeline file failed with
// ERR_UNKNOWN_FILE_EXTENSION. tsImport registers its loader for that import
// only. Without tsx the plain import runs and its error gets the hint that
// says how (plugin-hint.ts).
const TS_EXT = /\.(ts|mts|cts)$/i;

type TsImport = (specifier: string, parent: string) => Promise<Record<string, unknown>>;

async function tsImporter(): Promise<TsImport | undefined> {
  try {
    // A variable specifier: tsx is a devDependency, absent from installs that do not add it.
    const api = 'tsx/esm/api';
    return ((await import(api)) as { tsImport: TsImport }).tsImport;
  } catch {
    return undefined;
  }
}

/** The module namespace of a plugin; `url` is a file URL for paths, else the package name. */
export async function importPlugin(url: string, isPath: boolean): Promise<Record<string, unknown>> {
  if (isPath && TS_EXT.test(new URL(url).pathname)) {
    const tsImport = await tsImporter();
    if (tsImport !== undefined) return unwrapCommonJs(await tsImport(url, import.meta.url));
  }
  return (await import(url)) as Record<string, unknown>;
}

/**
 * A `.ts` file outside any `"type": "module"` package is compiled to CommonJS,
 * and its namespace's `default` is then the whole `exports` object: its
 * members are the plugin's exports.
 */
function unwrapCommonJs(mod: Record<string, unknown>): Record<string, unknown> {
  const d = mod.default as Record<string, unknown> | null | undefined;
  if (d === null || typeof d !== 'object' || Array.isArray(d) || !('__esModule' in d)) return mod;
  const { __esModule: _esm, ...exports } = d;
  return { ...mod, ...exports };
}
