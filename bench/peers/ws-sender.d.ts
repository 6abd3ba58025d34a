// @types/ws leaves out `Sender`, which ws exports (ws/wrapper.mjs) and the limit peer uses to
// frame each message once for all its subscribers.
import 'ws';

declare module 'ws' {
  /** ws's frame writer (ws/lib/sender.js); only the static part the peer uses. */
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
