// A source's `probe:` option: the probe read from another file replaces the
// one the scan file holds (or supplies the one CXI lacks). Shared by the file
// sources so the size check, the log line and the cleanup are written once.
import { OptionsError } from '../errors.js';
import { loadProbeFile } from '../io/probe-file.js';
import type { ScanMeta, StageContext } from '../pipeline/types.js';

/** The scan with its probe from `option` (a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY); `store` is closed if that fails; `replaced` names the probe it stands in for, in the log. */
export async function overrideProbe(
  scan: ScanMeta,
  option: string | undefined,
  ctx: StageContext,
  store: { close(): Promise<void> },
  replaced?: string,
): Promise<ScanMeta> {
  if (option === undefined) return scan;
  try {
    const { probe, origin } = await loadProbeFile(option, ctx.baseDir, ctx.id);
    if (probe.width !== scan.N || probe.height !== scan.N) {
      throw new OptionsError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but the patterns are ${scan.N}×${scan.N}`, {
        stage: ctx.id,
        file: origin,
        key: 'probe',
        hint: 'the probe must be sampled like the patterns',
      });
    }
    ctx.log.info(`probe from ${origin}${replaced === undefined ? '' : ` (instead of ${replaced})`}`);
    return { ...scan, probe, notes: { ...scan.notes, probe: origin } };
  } catch (e) {
    await store.close();
    throw e;
  }
}
