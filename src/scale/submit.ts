// Submitting a job: the pipeline file is loaded and validated here (so a bad
// file fails at submit, not on every worker), recorded as the plan document
// `ptychoflow run` would write (defaults filled in, input paths absolute:
// workers read the same shared paths), stored with the job manifest, and one
// small descriptor per shard is published to the work queue. Publishing is
// deduplicated by message id (job.shard): submitting the same job id twice
// does not queue its shards twice while the server remembers the ids.
import { randomBytes } from 'node:crypto';
import { builtinRegistry } from '../components.js';
import { ScaleError } from '../errors.js';
import { loadPlan } from '../pipeline/index.js';
import { planDocument } from '../pipeline/record.js';
import type { ScaleClient } from './client.js';
import { SHARD_SUBJECT } from './config.js';
import { names, planJob, type JobManifest } from './job.js';
import { getJson } from './results.js';

export interface SubmitOptions {
  /** Job id (default: a fresh random one). */
  job?: string;
  shards?: string;
  inputs?: string[];
  inputKey?: string;
  margin?: number;
  sets?: string[];
}

/** Message payloads stay far below NATS's default 1 MB max_payload; a descriptor is a few hundred bytes. */
const MAX_DESCRIPTOR_BYTES = 64 * 1024;

export function newJobId(): string {
  return `job-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
}

export async function submitJob(c: ScaleClient, file: string, o: SubmitOptions = {}): Promise<JobManifest> {
  const plan = await loadPlan(file, { registry: builtinRegistry(), sets: o.sets ?? [] });
  const doc = planDocument(plan, plan.settings.backend);
  const job = o.job ?? newJobId();
  const manifest = planJob({
    job,
    doc,
    pipelineFile: file,
    ...(o.shards !== undefined ? { shards: o.shards } : {}),
    ...(o.inputs !== undefined ? { inputs: o.inputs } : {}),
    ...(o.inputKey !== undefined ? { inputKey: o.inputKey } : {}),
    ...(o.margin !== undefined ? { margin: o.margin } : {}),
  });
  const existing = await getJson<JobManifest>(c, names.manifest(job));
  if (existing !== undefined)
    throw new ScaleError('JOB_EXISTS', `job '${job}' was submitted already (${existing.created_at})`, { hint: 'choose another --job id, or collect that one' });
  const enc = new TextEncoder();
  await c.store.putBlob({ name: names.pipeline(job) }, enc.encode(JSON.stringify(doc)));
  await c.store.putBlob({ name: names.manifest(job) }, enc.encode(JSON.stringify(manifest)));
  // A rounds job queues its round 0 now; the coordinator (collect) queues each later round.
  for (const d of manifest.shards.filter((s) => s.round === undefined || s.round === 0)) {
    const payload = enc.encode(JSON.stringify(d));
    if (payload.length > MAX_DESCRIPTOR_BYTES)
      throw new ScaleError('DESCRIPTOR_TOO_LARGE', `shard ${d.shard}'s descriptor is ${payload.length} bytes`, {
        hint: 'descriptors name inputs, they do not carry them',
      });
    await c.js.publish(`${SHARD_SUBJECT}.${job}`, payload, { msgID: `${job}.${d.shard}` });
  }
  return manifest;
}
