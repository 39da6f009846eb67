// The `epie` stage's options (src/sinks/epie.ts), apart from the engine.
import { z } from 'zod';
import { passRecords, reconstructionFiles } from './output-spec.js';

const pass = z.number().int().min(0).default(0);

export const epieOptions = z
  .object({
    reconstruction: z
      .string()
      .optional()
      .describe(
        "NPZ written by infer, refine or epie (object, probe, origin) to start from, relative to the output directory; unset: a flat object (amplitude 1, phase 0) with the scan's probe",
      ),
    probe: z
      .string()
      .optional()
      .describe(
        "Probe file instead of the scan's (or the start's) probe: FILE.npy, FILE.npz (probeModes, probeGuess or probe) or FILE.npz:KEY, (N, N) or (modes, N, N), relative to the pipeline file.",
      ),
    probe_modes: z
      .number()
      .int()
      .min(1)
      .max(16)
      .optional()
      .describe('Incoherent probe modes (intensities add in the far field); missing modes are grown from the strongest. Default: as many as the probe has.'),
    epochs: z.number().int().positive().default(100).describe('Most passes over the patterns.'),
    alpha: z.number().gt(0).max(1).default(1).describe("rPIE's α: the step's denominator is (1−α)|P|² + α·max|P|²; 1 is ePIE."),
    step: z.number().positive().max(2).default(1).describe('Step β at the start (1: the full ePIE step).'),
    final_step: z.number().positive().max(2).default(0.2).describe('Step at the end of the cosine decay (equal to step: constant).'),
    max_minutes: z.number().positive().optional().describe('Time budget: stop when less than half a pass of it is left.'),
    refine_probe: pass.describe('From this pass on (1-based) the probe modes are corrected too (same step); 0 keeps the probe fixed (known-probe mode).'),
    refine_positions: pass.describe('From this pass on (1-based) every scan position is corrected after its update; 0 keeps the positions.'),
    position_step: z.number().positive().max(2).default(0.5).describe('Fraction of the estimated position error applied per update.'),
    max_position_step: z.number().positive().default(0.5).describe('Largest position change per update by the first-order estimate, pixels per axis.'),
    position_search: z
      .number()
      .min(0)
      .default(1)
      .describe(
        'Radius (pixels) of the trial positions (8 around the current one) tried before each update while positions are refined, shrinking linearly to a tenth of it by the last pass; reaches errors the first-order estimate cannot. 0: first-order estimate only.',
      ),
    read_chunk: z.number().int().positive().default(32).describe('Frames read from the frame store at once.'),
    shuffle_buffer: z.number().int().positive().default(256).describe('Frames held to randomise the order when the input has no frame store (a live stream).'),
    ...reconstructionFiles({ npz: 'epie.npz', prefix: 'epie_' }, "infer's layout, plus probe_modes and the corrected positions when refined"),
    ...passRecords({ history: 'epie_history.json', plot: 'epie_error.png' }, 'Error'),
  })
  .strict();

export type EpieOptions = z.output<typeof epieOptions>;
