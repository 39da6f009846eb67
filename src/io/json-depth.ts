// A guard on stream-json's token stream: refuses documents nested deeper than
// a limit, wherever the nesting is (also in keys nobody reads), before the
// filters and assemblers behind it spend time in proportion to the depth.
import { Transform } from 'node:stream';
import { FormatError, type ErrorDetails } from '../errors.js';

/** Deepest nesting a manifest may have; real manifests need 3 or 4 levels. */
export const JSON_MAX_DEPTH = 64;

/** An object-mode Transform over stream-json tokens that fails past `maxDepth` levels. */
export function depthGuard(maxDepth: number = JSON_MAX_DEPTH, details: ErrorDetails = {}): Transform {
  let depth = 0;
  return new Transform({
    objectMode: true,
    transform(token: { name: string }, _enc, done) {
      if (token.name === 'startObject' || token.name === 'startArray') {
        if (++depth > maxDepth) {
          done(
            new FormatError('JSON_TOO_DEEP', `JSON nests deeper than ${maxDepth} levels`, {
              ...details,
              hint: 'manifests need only a few levels; the file is corrupt or hostile',
            }),
          );
          return;
        }
      } else if (token.name === 'endObject' || token.name === 'endArray') depth--;
      done(null, token);
    },
  });
}
