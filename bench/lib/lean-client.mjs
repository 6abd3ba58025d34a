// The lean counting client: speaks Engine.IO v4 / Socket.IO v5 directly over a WebSocket,
// counts frames and quotes without decoding them, and JSON-parses only one frame in
// `sampleEvery` to take latency samples. It exists because a full socket.io-client per
// connection would spend more of the shared 2 cores than the server under test.
//
// Two transports, both counting the same way:
// - 'ws'  — the `ws` library's client (UTF-8 validation off, no compression);
// - 'raw' — a minimal RFC 6455 client on `net`: one handshake, then frames are cut straight out
//           of the TCP chunks. Cheaper per frame, so less of the machine goes to measuring.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';

/** @typedef {import('./stats.mjs').LatencyHistogram} LatencyHistogram */

/**
 * Counters shared by every client of one worker; the worker resets them at a window's start.
 * @typedef {object} Counters
 * @property {number} frames        every WebSocket message received
 * @property {number} bytes         payload bytes of those messages
 * @property {number} quoteFrames   `quotes` events, and `frame` events carrying quotes
 * @property {number} quotes        quotes inside them (one per `"seq":`; in a `frame`, those before
 *   its `"trades":` key, since trades carry a `seq` too)
 * @property {number} tradeFrames   `trades` events, and `frame` events carrying trades
 * @property {number} bothFrames    `frame` events carrying quotes and trades (counted in both above)
 * @property {number} otherFrames   status events, acks, anything else
 * @property {number} pings         Engine.IO pings answered
 * @property {number} disconnects   clients that lost their connection
 * @property {number} sampledFrames frames parsed for latency
 * @property {LatencyHistogram} latency
 */

const SEQ = Buffer.from('"seq":');
const TRADES_KEY = Buffer.from('"trades":');
// '42/market,["' is 12 bytes; byte 12 tells the event apart: q(uotes), t(rades), f(rame), s(tatus).
const EVENT_PREFIX = Buffer.from('42/market,["');
// A `frame` event's object starts after '42/market,["frame",' (keys in the order v, quotes, trades).
const FRAME_BODY = EVENT_PREFIX.length + 'frame",'.length;
const CH_Q = 0x71;
const CH_T = 0x74;
const CH_F = 0x66;
const CH_4 = 0x34;
const CH_2 = 0x32;

const NAMESPACE = '/market';

/**
 * @typedef {object} LeanClientOptions
 * @property {string} host
 * @property {number} port
 * @property {string[]} symbols
 * @property {number} throttleMs
 * @property {number} sampleEvery   parse one quotes frame in this many (per client)
 * @property {'ws' | 'raw'} transport
 * @property {Counters} counters
 * @property {number} [timeoutMs]   for the whole handshake + subscribe
 * @property {string} [localAddress] source address to connect from (a server caps connections per address)
 */

/**
 * What every counting client shares (this one, and the broker peers' in broker-clients.mjs): one
 * WebSocket, raw or `ws`; the promise `connect()` returns, which the subclass's handshake settles
 * through `resolveReady` (or a timeout or an early close rejects); and an orderly close.
 */
export class CountingSocket {
  /** @param {LeanClientOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.counters = opts.counters;
    /** @type {string} the subclass's handshake states; 'subscribed' once counting, 'closed' at the end */
    this.state = 'connecting';
    // Spread the sampled frames over clients so samples are not all taken at the same instant.
    this.sampleCountdown = 1 + Math.floor(Math.random() * opts.sampleEvery);
    /** @type {((v: unknown) => void) | null} */
    this.resolveReady = null;
    /** @type {((e: Error) => void) | null} */
    this.rejectReady = null;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {RawWebSocket | null} */
    this.raw = null;
  }

  /** @returns {string} the path of the WebSocket handshake */
  path() {
    return '/';
  }

  /** @returns {string} the WebSocket subprotocol to ask for ('' for none) */
  subprotocol() {
    return '';
  }

  /** Called once the WebSocket is open (the server's 101 arrived). */
  opened() {}

  /** @param {Buffer} _data one WebSocket message: only valid during this call */
  onMessage(_data) {}

  stopTimers() {}

  /** Connects and runs the subclass's handshake; resolves with what it hands `resolveReady`. */
  connect() {
    const { host, port, transport, timeoutMs = 20_000, localAddress } = this.opts;
    const path = this.path();
    const proto = this.subprotocol();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`handshake timeout in state ${this.state}`)), timeoutMs);
      /** @param {Error} err */
      const fail = (err) => {
        clearTimeout(timer);
        if (this.rejectReady) {
          this.rejectReady = null;
          this.resolveReady = null;
          this.close();
          reject(err);
        }
      };
      this.resolveReady = (v) => {
        clearTimeout(timer);
        this.resolveReady = null;
        this.rejectReady = null;
        resolve(v);
      };
      this.rejectReady = fail;

      const onClose = () => {
        if (this.state === 'subscribed') this.counters.disconnects += 1;
        this.state = 'closed';
        this.stopTimers();
        fail(new Error('connection closed during handshake'));
      };
      if (transport === 'raw') {
        this.raw = new RawWebSocket(
          host,
          port,
          path,
          (buf) => this.onMessage(buf),
          onClose,
          fail,
          proto || undefined,
          localAddress,
        );
        this.raw.onOpen = () => this.opened();
      } else {
        const ws = new WebSocket(`ws://${host}:${port}${path}`, proto ? [proto] : [], {
          perMessageDeflate: false,
          skipUTF8Validation: true,
          ...(localAddress ? { localAddress } : {}),
        });
        this.ws = ws;
        ws.on('open', () => this.opened());
        ws.on('message', (data) => this.onMessage(/** @type {Buffer} */ (data)));
        ws.on('close', onClose);
        ws.on('error', (err) => fail(err));
      }
    });
  }

  /** An orderly close: the close listeners go first, so it is not counted as a disconnect. */
  close() {
    this.state = 'closed';
    this.stopTimers();
    if (this.ws) {
      this.ws.removeAllListeners('close');
      this.ws.on('error', () => {});
      this.ws.terminate();
      this.ws = null;
    }
    if (this.raw) {
      this.raw.destroy();
      this.raw = null;
    }
  }
}

export class LeanClient extends CountingSocket {
  /** @param {LeanClientOptions} opts */
  constructor(opts) {
    super(opts);
    // States: connecting -> open (Engine.IO open) -> subscribing -> subscribed | closed.
    this.ackSummary = '';
  }

  /** @override */
  path() {
    return '/socket.io/?EIO=4&transport=websocket';
  }

  /** @param {string} text */
  send(text) {
    if (this.raw) this.raw.sendText(text);
    else if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** @override @param {Buffer} data */
  onMessage(data) {
    const c = this.counters;
    c.frames += 1;
    c.bytes += data.length;
    const len = data.length;
    // Engine.IO ping: "2" -> pong "3"
    if (len === 1 && data[0] === CH_2) {
      c.pings += 1;
      this.send('3');
      return;
    }
    if (this.state === 'subscribed') {
      if (len > 13 && data[0] === CH_4 && data[1] === CH_2 && data[11] === 0x22 && data[10] === 0x5b) {
        const kind = data[12];
        if (kind === CH_Q) {
          c.quoteFrames += 1;
          let n = 0;
          let i = data.indexOf(SEQ, 20);
          while (i !== -1) {
            n += 1;
            i = data.indexOf(SEQ, i + 6);
          }
          c.quotes += n;
          if (--this.sampleCountdown === 0) {
            this.sampleCountdown = this.opts.sampleEvery;
            this.sample(data);
          }
          return;
        }
        if (kind === CH_T) {
          // Trades are counted by frame and byte only: counting the trades inside would cost
          // one search per trade, and they outnumber quotes several times over.
          c.tradeFrames += 1;
          return;
        }
        if (kind === CH_F) {
          this.countFrame(data);
          return;
        }
      }
      c.otherFrames += 1;
      return;
    }
    this.handshake(data.toString('utf8'));
  }

  /**
   * A `frame` event: `{"v":1,"quotes":[...],"trades":[...]}`, a key absent when it has nothing.
   * @param {Buffer} data
   */
  countFrame(data) {
    const c = this.counters;
    const trades = data.indexOf(TRADES_KEY, FRAME_BODY);
    const end = trades === -1 ? data.length : trades;
    let n = 0;
    let i = data.indexOf(SEQ, FRAME_BODY);
    while (i !== -1 && i < end) {
      n += 1;
      i = data.indexOf(SEQ, i + 6);
    }
    if (trades !== -1) c.tradeFrames += 1;
    if (n === 0) return;
    c.quoteFrames += 1;
    c.quotes += n;
    if (trades !== -1) c.bothFrames += 1;
    if (--this.sampleCountdown === 0) {
      this.sampleCountdown = this.opts.sampleEvery;
      this.sample(data);
    }
  }

  /** @param {Buffer} data a `quotes` event, or a `frame` event carrying quotes */
  sample(data) {
    const now = Date.now();
    const c = this.counters;
    try {
      const packet = JSON.parse(data.toString('utf8', EVENT_PREFIX.length - 2));
      const quotes = packet[0] === 'frame' ? packet[1]?.quotes : packet[1];
      if (!Array.isArray(quotes)) return;
      c.sampledFrames += 1;
      for (const q of quotes) {
        if (typeof q?.ts === 'number') c.latency.record(now - q.ts);
      }
    } catch {
      c.otherFrames += 1;
    }
  }

  /** @param {string} text */
  handshake(text) {
    this.counters.otherFrames += 1;
    if (this.state === 'connecting' && text.startsWith('0{')) {
      this.state = 'open';
      this.send(`40${NAMESPACE},`);
      return;
    }
    if (this.state === 'open' && text.startsWith(`40${NAMESPACE},`)) {
      this.state = 'subscribing';
      const req = { symbols: this.opts.symbols, throttleMs: this.opts.throttleMs };
      this.send(`42${NAMESPACE},1${JSON.stringify(['subscribe', req])}`);
      return;
    }
    if (this.state === 'open' && text.startsWith(`44${NAMESPACE},`)) {
      this.rejectReady?.(new Error(`namespace refused: ${text.slice(0, 200)}`));
      return;
    }
    if (this.state === 'subscribing' && text.startsWith(`43${NAMESPACE},1[`)) {
      let ack;
      try {
        ack = JSON.parse(text.slice(`43${NAMESPACE},1`.length))[0];
      } catch {
        this.rejectReady?.(new Error(`unparsable subscribe ack: ${text.slice(0, 200)}`));
        return;
      }
      if (ack && ack.ok === true) {
        this.state = 'subscribed';
        this.ackSummary = `throttleMs=${ack.throttleMs}`;
        this.resolveReady?.(ack.throttleMs);
      } else {
        this.rejectReady?.(new Error(`subscribe refused: ${JSON.stringify(ack?.error ?? ack).slice(0, 200)}`));
      }
    }
    // anything else before the ack (a status event, say) is counted and ignored
  }
}

/**
 * A client WebSocket in as few instructions per frame as possible: no streams, no events, no
 * UTF-8 validation, no extensions. Server frames are unmasked; client frames are masked (RFC 6455).
 */
/** One read buffer for every raw socket of this process: reads are handled one at a time, and
 * anything that must outlive a read (an incomplete frame) is copied out of it. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

export class RawWebSocket {
  /**
   * @param {string} host
   * @param {number} port
   * @param {string} path
   * @param {(payload: Buffer) => void} onMessage  the payload is only valid during the call
   * @param {() => void} onClose
   * @param {(err: Error) => void} onError
   * @param {string} [protocol]  Sec-WebSocket-Protocol to ask for (MQTT over WebSocket needs `mqtt`)
   * @param {string} [localAddress]  source address to connect from
   */
  constructor(host, port, path, onMessage, onClose, onError, protocol, localAddress) {
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.onError = onError;
    this.upgraded = false;
    /** @type {(() => void) | null} called once the server's 101 arrived */
    this.onOpen = null;
    /** @type {Buffer | null} bytes of an incomplete frame (or of the HTTP response) */
    this.pending = null;
    /** @type {Buffer[]} payloads of a fragmented message */
    this.fragments = [];
    this.closed = false;
    // `onread` hands each read straight to us in a reused buffer, skipping the Readable stream
    // machinery and its per-chunk allocation: that is most of a client's cost per frame.
    const socket = net.connect({
      host,
      port,
      ...(localAddress ? { localAddress } : {}),
      onread: {
        buffer: readBuffer,
        // the chunk is in readBuffer itself (the callback's second argument, typed as a plain Uint8Array)
        callback: (nread) => {
          this.onData(readBuffer.subarray(0, nread));
          return true;
        },
      },
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
          '\r\n',
      );
    });
    socket.on('error', (err) => this.onError(err));
    socket.on('close', () => {
      this.closed = true;
      this.onClose();
    });
  }

  /** @param {Buffer} chunk only valid during this call: it is the shared read buffer */
  onData(chunk) {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 16_384) this.onError(new Error('oversized HTTP response'));
        else this.pending = Buffer.from(buf);
        return;
      }
      const head = buf.toString('latin1', 0, end);
      if (!head.startsWith('HTTP/1.1 101')) {
        this.onError(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        this.destroy();
        return;
      }
      this.upgraded = true;
      buf = buf.subarray(end + 4);
      this.onOpen?.();
    }
    let off = 0;
    const total = buf.length;
    while (total - off >= 2) {
      const b0 = /** @type {number} */ (buf[off]);
      const b1 = /** @type {number} */ (buf[off + 1]);
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (total - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (total - off < 10) break;
        len = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        head = 10;
      }
      if (b1 & 0x80) {
        this.onError(new Error('masked frame from server'));
        this.destroy();
        return;
      }
      if (total - off < head + len) break;
      const payload = buf.subarray(off + head, off + head + len);
      off += head + len;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
        if (fin && this.fragments.length === 0) {
          this.onMessage(payload);
        } else {
          this.fragments.push(Buffer.from(payload));
          if (fin) {
            const whole = Buffer.concat(this.fragments);
            this.fragments = [];
            this.onMessage(whole);
          }
        }
      } else if (opcode === 0x8) {
        this.sendFrame(0x8, payload.subarray(0, 2));
        this.destroy();
        return;
      } else if (opcode === 0x9) {
        this.sendFrame(0xa, payload);
      }
      // 0xA (pong): nothing to do
    }
    if (off < total) this.pending = Buffer.from(buf.subarray(off));
  }

  /** @param {string} text */
  sendText(text) {
    this.sendFrame(0x1, Buffer.from(text));
  }

  /** @param {number} opcode @param {Buffer} payload */
  sendFrame(opcode, payload) {
    if (this.closed || this.socket.destroyed) return;
    const len = payload.length;
    const head = len < 126 ? 2 : len < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(head + 4 + len);
    frame[0] = 0x80 | opcode;
    if (head === 2) frame[1] = 0x80 | len;
    else if (head === 4) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
      frame.writeUInt32BE(len >>> 0, 6);
    }
    const mask = randomBytes(4);
    mask.copy(frame, head);
    for (let i = 0; i < len; i += 1)
      frame[head + 4 + i] = /** @type {number} */ (payload[i]) ^ /** @type {number} */ (mask[i & 3]);
    this.socket.write(frame);
  }

  destroy() {
    this.closed = true;
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => {});
    this.socket.destroy();
  }
}
