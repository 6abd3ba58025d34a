// @types/ws leaves out `Sender`, which ws exports (ws/wrapper.mjs): the gateway (engine-conn.ts)
// and the bench's limit peers use it to frame a message once for many connections.
import 'ws';

declare module 'ws' {
  /** ws's frame writer (ws/lib/sender.js); only the static part used here. */
  export class Sender {
    /** The frame of `data`: header and payload, to be written in order. */
    static frame(data: Buffer, options: SenderFrameOptions): Buffer[];
    static frame(data: Buffer | string, options: SenderFrameOptions): (Buffer | string)[];
  }

  interface SenderFrameOptions {
    fin?: boolean;
    rsv1?: boolean;
    opcode: number;
    mask?: boolean;
    readOnly?: boolean;
    maskBuffer?: Buffer;
    generateMask?: (mask: Buffer) => void;
  }
}
