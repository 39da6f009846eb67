// One series of the live stream protocol as it arrives (no socket here): turns
// each multipart message into an event (header, frame, end, bad record) and
// keeps the counts the run summary reports: received, duplicated, out of
// order, dropped. Frame indices seen are one bit each, so the bookkeeping of
// a 100 000-frame series is 12 kB, and a duplicate is caught whenever it comes.
import { DataError } from '../errors.js';
import { decodePixels, decodeProbe, HTYPE, parseJsonPart, readFrameHead, readHeader, type LiveHeader } from '../io/live-protocol.js';
import type { Frame } from '../pipeline/types.js';

export type SeriesEvent =
  | { readonly kind: 'header'; readonly header: LiveHeader; readonly probe?: { re: Float32Array; im: Float32Array } }
  | { readonly kind: 'frame'; readonly frame: Frame }
  | { readonly kind: 'end'; readonly frames: number }
  | { readonly kind: 'duplicate'; readonly index: number }
  | { readonly kind: 'bad'; readonly error: DataError; readonly record: number | string };

export interface SeriesCounts {
  messages: number;
  received: number;
  duplicated: number;
  out_of_order: number;
  dropped: number;
  bad: number;
  /** Frames the end message declared (absent: no end message arrived). */
  declared?: number;
}

/** A growable bit set over frame indices. */
class Bits {
  private bits = new Uint8Array(1024);
  /** Sets bit i; false when it was already set. */
  add(i: number): boolean {
    const byte = i >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, 2 * this.bits.length));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (i & 7);
    if ((this.bits[byte]! & mask) !== 0) return false;
    this.bits[byte] = this.bits[byte]! | mask;
    return true;
  }
}

export class SeriesReceiver {
  header: LiveHeader | undefined;
  private readonly seen = new Bits();
  private maxIndex = -1;
  private readonly counts: SeriesCounts = { messages: 0, received: 0, duplicated: 0, out_of_order: 0, dropped: 0, bad: 0 };

  /** One message's parts (the topic already stripped) → what it was. */
  feed(parts: readonly Uint8Array[]): SeriesEvent {
    const seq = ++this.counts.messages;
    try {
      if (parts.length === 0) throw new DataError('BAD_MESSAGE', 'empty message');
      const j = parseJsonPart(parts[0]!);
      if (j.htype === HTYPE.header) return this.onHeader(j, parts);
      if (j.htype === HTYPE.frame) return this.onFrame(j, parts);
      if (j.htype === HTYPE.end) {
        if (!(Number.isInteger(j.frames) && (j.frames as number) >= 0))
          throw new DataError('BAD_MESSAGE', `series end: frames ${JSON.stringify(j.frames)} is not a non-negative integer`);
        this.counts.declared = j.frames as number;
        return { kind: 'end', frames: j.frames as number };
      }
      throw new DataError('BAD_MESSAGE', `unknown htype ${JSON.stringify(j.htype)} (expected ${Object.values(HTYPE).join(', ')})`);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      this.counts.bad++;
      // Name the frame when its index is known (the error's key says `frame i`), else the message number.
      const m = /^frame (\d+)$/.exec(e.key ?? '');
      const record = m !== null ? Number(m[1]) : `message ${seq}`;
      return { kind: 'bad', error: m !== null ? e : new DataError(e.code, `message ${seq}: ${e.message}`, { cause: e }), record };
    }
  }

  private onHeader(j: Record<string, unknown>, parts: readonly Uint8Array[]): SeriesEvent {
    const h = readHeader(j);
    if (this.header !== undefined) {
      if (h.series === this.header.series) return { kind: 'duplicate', index: -1 };
      throw new DataError('UNEXPECTED_HEADER', `a header for series '${h.series}' arrived inside series '${this.header.series}'`, {
        hint: 'one series per run: start the receiver again for the next scan',
      });
    }
    let probe: { re: Float32Array; im: Float32Array } | undefined;
    if (h.probe === 'inline') {
      if (parts[1] === undefined) throw new DataError('BAD_HEADER', 'series header: probe is "inline" but the message has no probe part', { key: 'probe' });
      probe = decodeProbe(parts[1], h.N);
    }
    this.header = h;
    return { kind: 'header', header: h, ...(probe === undefined ? {} : { probe }) };
  }

  private onFrame(j: Record<string, unknown>, parts: readonly Uint8Array[]): SeriesEvent {
    const f = readFrameHead(j);
    const at = `frame ${f.index}`;
    const h = this.header;
    if (h === undefined)
      throw new DataError('NO_HEADER', `${at}: arrived before any series header`, {
        key: at,
        hint: 'start the receiver before the sender, or let the sender repeat its header',
      });
    if (f.series !== h.series) throw new DataError('BAD_SERIES', `${at}: belongs to series '${f.series}', not '${h.series}'`, { key: at });
    if (parts[1] === undefined) throw new DataError('BAD_FRAME_SIZE', `${at}: the message has no pixel part`, { key: at });
    const amplitude = decodePixels(parts[1], h.N, f.dtype ?? h.dtype, f.byte_order ?? h.byte_order, h.values === 'counts', f.index);
    if (!this.seen.add(f.index)) {
      this.counts.duplicated++;
      return { kind: 'duplicate', index: f.index };
    }
    this.counts.received++;
    if (f.index < this.maxIndex) this.counts.out_of_order++;
    else this.maxIndex = f.index;
    const scale = h.position_units === 'm' ? 1 / h.pixel_size_m! : 1;
    return { kind: 'frame', frame: { index: f.index, x: f.x * scale, y: f.y * scale, amplitude } };
  }

  /** The counts so far; dropped is the indices below the declared count (else below the highest seen) that never arrived. */
  summary(): SeriesCounts {
    const expected = this.counts.declared ?? this.maxIndex + 1;
    return { ...this.counts, dropped: Math.max(0, expected - this.counts.received) };
  }
}
