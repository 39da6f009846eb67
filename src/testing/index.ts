// Test helpers, exported as `ptychoflow/testing` so plugin authors write stream
// tests the way we do (helpers.ts), and the stage-compliance suite every
// source and transform runs (compliance.ts), and its counterpart for sinks
// (sink-compliance.ts).
export * from './helpers.js';
export { checkCompliance, counted, type ComplianceCase, type ComplianceFailure, type CountedInput } from './compliance.js';
export { checkSinkCompliance, withoutTimings, type SinkComplianceCase } from './sink-compliance.js';
