// Record kinds through a pipeline, checked before anything opens: each stage
// declares what its inputs may carry (`accepts`) and what it emits (`emits`,
// or 'same' as its first input); walking the stages in dependency order gives
// every output its kind, and an input whose kind its stage does not accept is
// a problem at that input's line. Stages without declarations (plugins that
// predate them) are not checked, and make their outputs unknown.
import type { ComponentDef, RecordKind } from './types.js';

export interface KindedStage {
  readonly id: string;
  readonly def: ComponentDef;
  readonly inputs: readonly string[];
}

/** The kind each input accepts, or undefined when the stage declares none. */
export function acceptedAt(def: ComponentDef, input: number): readonly RecordKind[] | undefined {
  const a = def.accepts;
  if (a === undefined || a.length === 0) return undefined;
  return a[Math.min(input, a.length - 1)];
}

/** The kind of an output reference (`id`, `id.errors`, `id.part`), if known. */
function kindOf(ref: string, kinds: ReadonlyMap<string, RecordKind | undefined>): RecordKind | undefined {
  const [id = '', output] = ref.split('.', 2);
  if (output === 'errors') return 'error';
  return kinds.get(id);
}

/**
 * Walks `ordered` (every stage after the stages it reads) and reports each
 * input whose kind its stage does not accept, with the input's position.
 */
export function checkKinds(ordered: readonly KindedStage[], report: (id: string, input: number, message: string) => void): Map<string, RecordKind | undefined> {
  const kinds = new Map<string, RecordKind | undefined>();
  for (const st of ordered) {
    const given = st.inputs.map((ref) => kindOf(ref, kinds));
    st.inputs.forEach((ref, i) => {
      const accepted = acceptedAt(st.def, i);
      const kind = given[i];
      if (accepted === undefined || kind === undefined || accepted.includes(kind)) return;
      report(st.id, i, `'${st.def.type}' accepts ${describe(accepted)}, but '${ref}' gives ${kind} records`);
    });
    const emits = st.def.emits;
    kinds.set(st.id, emits === 'same' ? given[0] : emits);
  }
  return kinds;
}

function describe(kinds: readonly RecordKind[]): string {
  const names = kinds.map((k) => `${k} records`);
  return names.length <= 1 ? (names[0] ?? 'no records') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]!}`;
}
