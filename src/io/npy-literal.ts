// A tiny reader for the Python literal in an NPY header: the dict numpy
// writes with repr() (strings, integers, True/False/None, tuples, lists,
// nested dicts). Only as much as headers need; anything else, or nesting
// past a small depth, is BAD_HEADER.
import { FormatError } from '../errors.js';

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

const bad = (message: string): FormatError => new FormatError('BAD_HEADER', message);
const CLOSE = { '{': '}', '(': ')', '[': ']' } as const;
type Open = keyof typeof CLOSE;

class LiteralReader {
  private i = 0;
  constructor(private readonly text: string) {}

  read(): PyValue {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.text.length) throw bad('trailing characters after the npy header dict');
    return v;
  }

  private ws(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i]!)) this.i++;
  }

  private value(depth: number): PyValue {
    if (depth > 8) throw bad('npy header nests too deep');
    this.ws();
    const c = this.text[this.i];
    if (c === undefined) throw bad('npy header ends early');
    if (c === "'" || c === '"') return this.string(c);
    if (c === '{' || c === '(' || c === '[') return this.container(c, depth);
    return this.scalar(c);
  }

  private string(quote: string): string {
    const end = this.text.indexOf(quote, this.i + 1);
    if (end < 0) throw bad('unterminated string in npy header');
    const s = this.text.slice(this.i + 1, end);
    this.i = end + 1;
    return s;
  }

  /** A dict (string keys) or a tuple/list, trailing comma allowed. */
  private container(open: Open, depth: number): PyValue {
    const close = CLOSE[open];
    const { text } = this;
    this.i++;
    const list: PyValue[] = [];
    const dict: Record<string, PyValue> = {};
    for (;;) {
      this.ws();
      if (text[this.i] === close) {
        this.i++;
        break;
      }
      const v = this.value(depth + 1);
      if (open === '{') {
        this.ws();
        if (typeof v !== 'string' || text[this.i] !== ':') throw bad('npy header is not a dict of string keys');
        this.i++;
        dict[v] = this.value(depth + 1);
      } else list.push(v);
      this.ws();
      if (text[this.i] === ',') this.i++;
      else if (text[this.i] !== close) throw bad(`unexpected '${text[this.i] ?? 'end'}' in npy header`);
    }
    return open === '{' ? dict : list;
  }

  private scalar(c: string): PyValue {
    const m = /^(-?\d+|True|False|None)/.exec(this.text.slice(this.i, this.i + 24));
    if (m === null) throw bad(`unexpected '${c}' in npy header`);
    this.i += m[0].length;
    return m[0] === 'True' ? true : m[0] === 'False' ? false : m[0] === 'None' ? null : Number(m[0]);
  }
}

/** Parses the whole header text as one Python literal. */
export function parseLiteral(text: string): PyValue {
  return new LiteralReader(text).read();
}
