// Composing pipelines in code with it-pipe: stage factories, terminals, and
// it-pipe's `pipe` itself. See README.md ("Composing in code").
export { pipe } from 'it-pipe';
export * from './stages.js';
export { run, iterate, session, fromStream, type ComposeOptions, type Session } from './run.js';
export { Chain } from './chain.js';
export { composedDocument, type ComposeSettings } from './plan.js';
