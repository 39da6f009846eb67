// A registry entry whose implementation is imported only when a stage of its
// type is created. Listing stages (`ptychoflow stages`) and checking pipeline
// files (`validate`) need a component's declaration alone (type, description,
// options schema, record kinds, arity); the stages that train or predict
// import TensorFlow.js, which those commands then never load.
import type { ComponentDef, CreateDeps } from './types.js';

/** Everything of a component but `create`: what listing and validation read. */
export type ComponentSpec<D extends ComponentDef = ComponentDef> = Omit<D, 'create'>;

/** A component declared by its spec, with `load()` giving the full definition. */
export type LazyComponent<D extends ComponentDef = ComponentDef> = D & { readonly load: () => Promise<D> };

/**
 * The component of `spec`, created through the module `load` imports (whose
 * default export must be the definition built on this very spec).
 */
export function lazyComponent<D extends ComponentDef>(spec: ComponentSpec<D>, load: () => Promise<{ default: D }>): LazyComponent<D> {
  let loaded: Promise<D> | undefined;
  const impl = (): Promise<D> => (loaded ??= load().then((m) => m.default));
  // The options were parsed with the spec's schema, which is the implementation's.
  const create = async (options: never, deps: CreateDeps): Promise<unknown> => ((await impl()) as ComponentDef).create(options, deps);
  return { ...spec, create, load: impl } as unknown as LazyComponent<D>;
}

/** Whether a registry entry defers its implementation (tests check that its spec and module agree). */
export function isLazyComponent(def: ComponentDef): def is LazyComponent {
  return typeof (def as { load?: unknown }).load === 'function';
}

/** Whether two entries are one component: the same object, or a lazy entry and the definition built on its spec. */
export function sameComponent(a: ComponentDef, b: ComponentDef): boolean {
  return a === b || (a.type === b.type && a.kind === b.kind && a.options === b.options && (isLazyComponent(a) || isLazyComponent(b)));
}
