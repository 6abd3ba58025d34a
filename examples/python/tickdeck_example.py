"""What the tickdeck example clients share: connecting with a clear refusal, and number formatting."""

import argparse
import sys
import threading

import socketio


def number(x):
    """A price or size as JSON carries it: the shortest form that reads back the same."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def refusal_text(data):
    """A refused connection's `connect_error`: `{message, data: {code, message}}` from the gateway."""
    if not isinstance(data, dict):
        return str(data)
    detail = data.get("data") if isinstance(data.get("data"), dict) else data
    return f"{detail.get('code', 'REFUSED')}: {detail.get('message', data.get('message'))}"


def connect(sio, url, namespace, auth):
    """Connects to `namespace` and waits for its answer: None once connected, else why not."""
    answered = threading.Event()
    refusal = []

    def on_connect_error(data):
        refusal.append(refusal_text(data))
        answered.set()

    sio.on("connect", answered.set, namespace=namespace)
    sio.on("connect_error", on_connect_error, namespace=namespace)
    try:
        # wait=False: python-socketio 5.7 would sit out its whole wait_timeout after a refusal.
        sio.connect(url, namespaces=[namespace], auth=auth, wait=False)
    except socketio.exceptions.ConnectionError as err:
        return str(err)
    if not answered.wait(10):
        refusal.append("no answer within 10 s")
    if refusal:
        sio.disconnect()
        return refusal[0]
    return None


class UsageError(argparse.ArgumentParser):
    """Usage errors exit 1 with the usage and the program's name, as the examples document."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(1)
