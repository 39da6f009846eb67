// The backend names a pipeline file or --backend accepts, in `auto`'s order
// after 'auto' itself. A leaf module: the CLI lists them without loading tfjs.
export const BACKEND_NAMES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
