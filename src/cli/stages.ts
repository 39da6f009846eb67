// `ptychoflow stages [TYPE]`: every registered stage (and a plugin's) with its
// options, as text, JSON or the Markdown of docs/STAGES.md.
import { builtinRegistry } from '../components.js';
import { didYouMean } from '../pipeline/problems.js';
import { loadPlugins, type Registry } from '../pipeline/registry.js';
import { describeStage, stageMarkdown, stageText } from './describe.js';
import { EXIT, type CliIO } from './io.js';

export interface StagesFlags {
  plugin: string[];
  json?: boolean;
  markdown?: boolean;
}

export async function stagesCommand(type: string | undefined, o: StagesFlags, io: CliIO): Promise<number> {
  let reg: Registry = builtinRegistry();
  if (o.plugin.length > 0) {
    reg = reg.clone();
    // Named on the command line by the user: trusted wherever it is.
    await loadPlugins(o.plugin, process.cwd(), reg, { allowOutside: true });
  }
  const defs = reg.all().filter((d) => type === undefined || d.type === type);
  if (type !== undefined && defs.length === 0) {
    const hint = didYouMean(type, reg.types());
    io.stderr.write(`unknown stage type '${type}'${hint !== undefined ? `; did you mean '${hint}'?` : ''} (known: ${reg.types().join(', ')})\n`);
    return EXIT.invalid;
  }
  const docs = defs.map((d) => describeStage(d, reg.origin(d.type)));
  if (o.json === true) io.stdout.write(JSON.stringify(docs) + '\n');
  else if (o.markdown === true) io.stdout.write(stageMarkdown(docs) + '\n');
  else io.stdout.write(docs.map(stageText).join('\n\n') + '\n');
  return EXIT.ok;
}
