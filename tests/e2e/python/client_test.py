#!/usr/bin/python3
"""python-socketio (Debian's python3-socketio 5.7) against sio_echo.

Usage: /usr/bin/python3 client_test.py URL [CA_FILE]
With an https:// URL and CA_FILE, the server's certificate is verified
against that CA (both transports).
For each transport (websocket, polling): connect, emit with ack (call),
echo without ack, join a room and receive a relay between two clients.
Exits 0 when everything passed; otherwise prints what failed and exits 1.
"""
import os
import sys
import threading

import socketio

TIMEOUT = 5


def http_session(ca_file):
    """A requests session trusting only ca_file; python-engineio hands its
    verify setting to the websocket transport too."""
    if not ca_file:
        return None
    import requests
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    session.verify = ca_file
    return session


CA_FILE = None


def make_client(url, transports, failures, label):
    sio = socketio.Client(reconnection=False, http_session=http_session(CA_FILE))
    sio.relays = []
    sio.echoes = []
    sio.got_relay = threading.Event()
    sio.got_echo = threading.Event()

    @sio.on('relay')
    def on_relay(*args):
        sio.relays.append(list(args))
        sio.got_relay.set()

    @sio.on('echo')
    def on_echo(*args):
        sio.echoes.append(list(args))
        sio.got_echo.set()

    try:
        sio.connect(url, transports=transports, wait_timeout=TIMEOUT)
    except Exception as e:  # noqa: BLE001 - report any connection failure
        failures.append(f'{label}: connect failed: {e!r}')
        return None
    return sio


def check(failures, label, cond, what):
    if not cond:
        failures.append(f'{label}: {what}')


def run_transport(url, transport):
    failures = []
    label = transport
    a = make_client(url, [transport], failures, f'{label}/a')
    b = make_client(url, [transport], failures, f'{label}/b')
    if a is None or b is None:
        return failures
    step = ['start']  # what was running when an exception came

    def call(client, name, *args):
        step[0] = f'call {name} {args[0]!r:.40}'
        return client.call(name, *args, timeout=TIMEOUT)

    try:
        check(failures, label, a.transport() == transport,
              f'transport is {a.transport()}')
        got = call(a, 'echo', 'hello')
        check(failures, label, got == 'hello', f'call echo string -> {got!r}')
        payload = {'n': 1, 'u': 'h\u00e9llo \U0001F30D', 'l': [1, None, True]}
        got = call(a, 'echo', payload)
        check(failures, label, got == payload, f'call echo object -> {got!r}')
        got = call(a, 'echo', ('x', 2))
        check(failures, label, got == ('x', 2), f'call echo two args -> {got!r}')
        blob = b'\x00\x01\xffbin'
        got = call(a, 'echo', {'b': blob})
        check(failures, label, got == {'b': blob}, f'call echo binary -> {got!r}')

        a.emit('echo', 'noack')
        check(failures, label, a.got_echo.wait(TIMEOUT), 'no echo event back')
        check(failures, label, a.echoes[:1] == [['noack']], f'echo event {a.echoes!r}')

        room = f'py-{transport}'
        check(failures, label, call(a, 'join', room) is True, 'join a')
        check(failures, label, call(b, 'join', room) is True, 'join b')
        a.emit('relay', (room, 'from a', {'k': 'v'}))
        check(failures, label, b.got_relay.wait(TIMEOUT), 'b got no relay')
        check(failures, label, b.relays[:1] == [['from a', {'k': 'v'}]],
              f'b relays {b.relays!r}')
        # Round trip on a after the delivery: a stray self-relay would be here.
        call(a, 'echo', 'barrier')
        check(failures, label, a.relays == [], f'sender got its own relay {a.relays!r}')
    except Exception as e:  # noqa: BLE001 - report, do not crash
        failures.append(f'{label}: {e!r} during {step[0]}')
    finally:
        for c in (a, b):
            try:
                c.disconnect()
            except Exception:  # noqa: BLE001
                pass
    return failures


def main():
    global CA_FILE
    if len(sys.argv) not in (2, 3):
        print('usage: client_test.py URL [CA_FILE]', file=sys.stderr)
        return 2
    url = sys.argv[1]
    CA_FILE = sys.argv[2] if len(sys.argv) == 3 else None
    failures = []
    for transport in ('websocket', 'polling'):
        failures += run_transport(url, transport)
    if failures:
        for f in failures:
            print('FAIL', f)
        return 1
    return 0


if __name__ == '__main__':
    # os._exit, not sys.exit: python-engineio 4.3's disconnect() does not wait
    # for its polling read thread, a non-daemon thread that can be left in a
    # long-poll GET (about 3 runs in 100, against the Node.js reference server
    # as well as ours); interpreter shutdown would then wait for the server's
    # next ping. Every check has already run and printed by now.
    code = main()
    sys.stdout.flush()
    os._exit(code)
