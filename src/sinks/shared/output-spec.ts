// The output-file options that infer, refine and epie share, declared once so
// that their names, defaults' form and descriptions cannot drift apart.
import { z } from 'zod';

const relative = 'relative to the output directory.';

/** `npz`, `amplitude_png`, `phase_png`: where a reconstruction is written. */
export function reconstructionFiles(defaults: { npz: string; prefix: string }, npzWhat: string) {
  return {
    npz: z.string().default(defaults.npz).describe(`Output NPZ (${npzWhat}), ${relative}`),
    amplitude_png: z.string().default(`${defaults.prefix}amplitude.png`).describe(`Amplitude image, ${relative}`),
    phase_png: z.string().default(`${defaults.prefix}phase.png`).describe(`Phase image, ${relative}`),
  };
}

/** `history`, `score_every`, `loss_plot`: what an iterative engine records per pass. */
export function passRecords(defaults: { history: string; plot: string }, quantity: 'Loss' | 'Error') {
  return {
    history: z.string().default(defaults.history).describe(`${quantity} per pass (JSON), ${relative}`),
    score_every: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Score the object against the scan's truth every K passes and after the last (0: never): SSIM in the history, time to SSIM 0.95/0.99 in the summary.",
      ),
    loss_plot: z.string().default(defaults.plot).describe(`${quantity} curve (PNG), ${relative}`),
  };
}
