import type {
  AlertClearAck,
  AlertClearRequest,
  AlertListAck,
  AlertSetAck,
  AlertSetRequest,
  FeedAck,
  FeedTick,
  FeedTrade,
  PingAck,
  Status,
  SubscribeAck,
  SubscribeRequest,
  UnsubscribeAck,
  UnsubscribeRequest,
  ViewerFrame,
} from './messages.js';

/** Events a dashboard sends on `/market`; every one takes an ack callback. */
export interface ClientToServerEvents {
  subscribe: (req: SubscribeRequest, ack: (res: SubscribeAck) => void) => void;
  unsubscribe: (req: UnsubscribeRequest, ack: (res: UnsubscribeAck) => void) => void;
  /** Round-trip probe: answers at once with the gateway's clock. */
  ping: (ack: (res: PingAck) => void) => void;
  /** Sets (or replaces, by id) price alerts of this socket; with `since`, reports what fired while away. */
  'alert:set': (req: AlertSetRequest, ack: (res: AlertSetAck) => void) => void;
  'alert:clear': (req: AlertClearRequest, ack: (res: AlertClearAck) => void) => void;
  'alert:list': (ack: (res: AlertListAck) => void) => void;
}

/** Events the gateway pushes to dashboards on `/market`. */
export interface ServerToClientEvents {
  /** Everything the viewer is owed at one flush (quotes of its tier, trades): one message per flush. */
  frame: (frame: ViewerFrame) => void;
  status: (status: Status) => void;
}

/** Events a feed publisher sends on `/feed`. */
export interface FeedClientToServerEvents {
  ticks: (batch: FeedTick[], ack: (res: FeedAck) => void) => void;
  trades: (batch: FeedTrade[], ack: (res: FeedAck) => void) => void;
}

/** What gateway nodes of one cluster tell each other on `/market` (`serverSideEmit`, through Redis). */
export interface NodeEvents {
  /** A node's heartbeat, every second: its id and the viewer sockets it holds. */
  'tickdeck:node': (beat: { node: string; viewers: number }) => void;
}
