// The project's one way in to TensorFlow.js: tfjs-core (ops, autodiff,
// optimizers) with its gradients, chained tensor methods and the
// pure-JavaScript cpu backend registered, as the @tensorflow/tfjs
// meta-package gave it, without that package's layers, converter, data and
// WebGL parts that nothing here uses. The wasm and native backends register
// themselves when src/backend/select.ts loads them.
import '@tensorflow/tfjs-backend-cpu';
// Built from tfjs-core by scripts/tfjs-extras.js (npm install, npm run build).
import './generated/tfjs-extras.js';
// The typings of the chained methods (erased at run time).
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

export * from '@tensorflow/tfjs-core';
