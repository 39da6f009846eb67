// The parsed flags of the scale commands (types only, shared by scale-commands.ts and the command modules).
import type { ScaleFlags } from '../scale/config.js';

export type SubmitFlags = ScaleFlags & {
  shards?: string;
  inputs: string[];
  inputKey?: string;
  margin?: number;
  job?: string;
  set: string[];
  wait?: boolean;
  output?: string;
  jobTimeout?: number;
  json?: boolean;
  verbose?: boolean;
};
export type WorkerFlags = ScaleFlags & { concurrency: number; backend?: string; maxShards?: number; workDir?: string; verbose?: boolean };
export type CollectFlags = ScaleFlags & { output?: string; wait?: boolean; jobTimeout?: number; json?: boolean; verbose?: boolean };
