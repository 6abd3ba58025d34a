#!/usr/bin/env python3
"""Watch a tickdeck gateway: subscribe to symbols on /market and print quotes and trades.

    watch.py http://localhost:3000 AAPL BTC-USD --seconds 10

One line per quote and per trade on stdout; what the gateway said (the subscription, a
disconnect notice) on stderr. Exits 0 after --seconds (or on Ctrl-C), 1 on a usage error,
2 when the gateway refuses or drops the connection.
"""

import os
import sys
import threading

import socketio

from tickdeck_example import UsageError, connect, number

NAMESPACE = "/market"


def quote_line(q):
    return (
        f"quote {q['symbol']} last={number(q['last'])} bid={number(q['bid'])} ask={number(q['ask'])}"
        f" chg={q['changePct']:+.2f}% seq={q['seq']} conflated={q['conflated']}"
    )


def trade_line(symbol, t):
    return (
        f"trade {symbol} {t['side']} {number(t['size'])} @ {number(t['price'])}"
        f" id={t['id']} seq={t['seq']}"
    )


def parse_args(argv):
    parser = UsageError(description="Print a tickdeck gateway's quotes and trades for some symbols.")
    parser.add_argument("url", help="the gateway, e.g. http://localhost:3000")
    parser.add_argument(
        "symbols", nargs="*", default=["AAPL", "BTC-USD"], help="symbols to watch (default: AAPL BTC-USD)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("TICKDECK_TOKEN"),
        help="viewer token, when the gateway requires one (AUTH_TOKENS, AUTH_JWT_SECRET); env TICKDECK_TOKEN",
    )
    parser.add_argument(
        "--seconds", type=float, default=0, help="exit after this many seconds (default: run until Ctrl-C)"
    )
    parser.add_argument("--throttle", type=int, help="throttle tier in ms (default: the gateway's)")
    args = parser.parse_args(argv)
    if args.seconds < 0:
        parser.error("--seconds must be >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    sio = socketio.Client(reconnection=False, handle_sigint=False)
    done = threading.Event()
    failure = []

    @sio.on("frame", namespace=NAMESPACE)
    def on_frame(frame):
        lines = [quote_line(q) for q in frame.get("quotes", [])]
        lines += [trade_line(b["symbol"], t) for b in frame.get("trades", []) for t in b["trades"]]
        if lines:
            print("\n".join(lines), flush=True)

    @sio.on("status", namespace=NAMESPACE)
    def on_status(status):
        if "notice" in status or "server" in status:
            print(f"status {status}", file=sys.stderr, flush=True)

    @sio.on("disconnect", namespace=NAMESPACE)
    def on_disconnect():
        if not done.is_set():
            failure.append("the gateway closed the connection")
            done.set()

    refused = connect(sio, args.url, NAMESPACE, {"token": args.token} if args.token else None)
    if refused:
        print(f"watch.py: cannot connect to {args.url}{NAMESPACE}: {refused}", file=sys.stderr)
        return 2

    request = {"symbols": args.symbols}
    if args.throttle is not None:
        request["throttleMs"] = args.throttle
    try:
        ack = sio.call("subscribe", request, namespace=NAMESPACE, timeout=10)
    except socketio.exceptions.TimeoutError:
        ack = {"ok": False, "error": {"code": "TIMEOUT", "message": "no ack within 10 s"}}
    if not ack.get("ok"):
        error = ack.get("error", {})
        print(f"watch.py: subscribe refused: {error.get('code')}: {error.get('message')}", file=sys.stderr)
        sio.disconnect()
        return 2
    held = ",".join(s["symbol"] for s in ack["snapshots"])
    print(f"subscribed {held} at {ack['throttleMs']} ms (epoch {ack['epoch']})", file=sys.stderr, flush=True)

    try:
        done.wait(args.seconds or None)
    except KeyboardInterrupt:
        pass
    finished_early = done.is_set()
    done.set()
    sio.disconnect()
    if finished_early and failure:
        print(f"watch.py: {failure[-1]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
