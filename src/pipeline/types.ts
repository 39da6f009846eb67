// The contracts every stage is written against, in one import: the records
// (src/records), the stream and its capabilities (src/core/stream.ts), the
// stage context and component definition (src/core/component.ts).
export * from '../records/index.js';
export * from '../core/stream.js';
export * from '../core/component.js';
