// The project's one way in to TensorFlow.js: tfjs-core (ops, autodiff,
// optimizers) with its gradients, chained tensor methods and the
// pure-JavaScript cpu backend registered, as the @tensorflow/tfjs
// meta-package gave it, without that package's layers, converter, data and
// WebGL parts that nothing here uses. src/generated/ is written from the
// installed tfjs-core by scripts/tfjs-extras.js (npm install, npm run build).
// The wasm and native backends register themselves when src/backend/select.ts
// loads them.
export * from './generated/tfjs.js';
