// The tensor ledger lives with the engine contracts (src/core/ledger.ts).
export * from '../core/ledger.js';
