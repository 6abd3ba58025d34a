#!/usr/bin/env python3
"""Publish market data to a tickdeck gateway's /feed: ticks (and trades) for a few symbols.

    FEED_TOKEN=... publish.py http://localhost:3000 AAPL=190.25 MSFT=410 --batches 20

The gateway must run with FEED=external or FEED=both and the same FEED_TOKEN. Each batch is one
tick per symbol (a seeded random walk from the given price, one cent either side for bid and
ask), and with --trades a trade at that price. Every batch waits for its ack, which is the
back-pressure. Prints each tick and trade sent and each ack; exits 0 when every item was
accepted, 1 on a usage error, 2 when the gateway refuses the connection or any item of a batch
(it stops there).
"""

import argparse
import os
import random
import sys
import time

import socketio

from tickdeck_example import UsageError, connect, number

NAMESPACE = "/feed"


def start_price(text):
    symbol, sep, price = text.partition("=")
    try:
        value = float(price)
    except ValueError:
        value = 0
    if not sep or not symbol or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SYMBOL=PRICE with a price > 0")
    return symbol, value


def parse_args(argv):
    parser = UsageError(description="Feed ticks and trades to a tickdeck gateway's /feed namespace.")
    parser.add_argument("url", help="the gateway, e.g. http://localhost:3000")
    parser.add_argument(
        "prices", nargs="+", type=start_price, metavar="SYMBOL=PRICE", help="where each symbol's walk starts"
    )
    parser.add_argument(
        "--token", default=os.environ.get("FEED_TOKEN"), help="the gateway's FEED_TOKEN; env FEED_TOKEN"
    )
    parser.add_argument("--batches", type=int, default=10, help="batches to send (default 10)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between batches (default 0.25)")
    parser.add_argument("--trades", action="store_true", help="also publish a trade per tick")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random walk (default 1)")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a feed token is needed: --token or FEED_TOKEN")
    if args.batches < 1 or args.interval < 0:
        parser.error("--batches must be >= 1 and --interval >= 0")
    return args


def ack_line(event, n, ack):
    line = f"ack {event} #{n}: accepted {ack['accepted']}, rejected {ack['rejectedCount']}"
    for r in ack.get("rejected", []):
        line += f"; [{r['index']}] {r['code']}: {r['message']}"
    return line


def main(argv):
    args = parse_args(argv)
    rng = random.Random(args.seed)
    prices = dict(args.prices)
    sio = socketio.Client(reconnection=False)
    refused = connect(sio, args.url, NAMESPACE, {"token": args.token})
    if refused:
        print(f"publish.py: cannot connect to {args.url}{NAMESPACE}: {refused}", file=sys.stderr)
        return 2

    def send(event, batch, n):
        try:
            ack = sio.call(event, batch, namespace=NAMESPACE, timeout=10)
        except socketio.exceptions.TimeoutError:
            print(f"publish.py: no ack for {event} #{n} within 10 s", file=sys.stderr)
            return False
        print(ack_line(event, n, ack), flush=True)
        return ack["rejectedCount"] == 0

    ok = True
    try:
        for n in range(1, args.batches + 1):
            ts = int(time.time() * 1000)
            ticks, trades = [], []
            for symbol, price in prices.items():
                last = max(0.01, round(price * (1 + rng.gauss(0, 0.001)), 2))
                prices[symbol] = last
                bid = max(0.01, round(last - 0.01, 2))
                ask = round(last + 0.01, 2)
                ticks.append({"symbol": symbol, "ts": ts, "last": last, "bid": bid, "ask": ask})
                print(f"tick {symbol} last={number(last)}", flush=True)
                if args.trades:
                    side = rng.choice(["buy", "sell"])
                    size = rng.randint(1, 500)
                    trades.append({"symbol": symbol, "ts": ts, "price": last, "size": size, "side": side})
                    print(f"trade {symbol} {side} {size} @ {number(last)}", flush=True)
            ok = send("ticks", ticks, n) and (not trades or send("trades", trades, n))
            if not ok:
                break
            if n < args.batches:
                time.sleep(args.interval)
    finally:
        sio.disconnect()
    if not ok:
        print("publish.py: the gateway refused a batch (see its ack above); stopped", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
