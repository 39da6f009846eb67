// The soak's child process: the ptychoflow CLI, with a save hook that kills
// the process with SIGKILL inside a checkpoint save when PF_SOAK_KILL_AT_SAVE
// is "<n>:<step>" (the n-th save of this process, at step 'written' — the new
// checkpoint complete in its temp dir — or 'swapped-out' — the old one renamed
// away, the new one not yet in place).
import { main } from '../../src/cli/main.js';
import { setSaveHook } from '../../src/model/checkpoint.js';

const spec = process.env.PF_SOAK_KILL_AT_SAVE;
if (spec !== undefined && spec !== '') {
  const [n, step] = spec.split(':');
  let saves = 0;
  setSaveHook((s) => {
    if (s === 'written') saves++;
    if (saves === Number(n) && s === step) process.kill(process.pid, 'SIGKILL');
  });
}
const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
