#!/usr/bin/python3
"""python-socketio (Debian's python3-socketio) polling-only clients for
reuse_port.test.mjs: several processes share the port, so each HTTP request
may reach any of them.

Usage: /usr/bin/python3 polling_room.py URL ROOM EXPECTED TOKEN...
One client per token connects with transports=['polling'], joins ROOM
(chat:join, acked) and prints "joined". On a line from stdin each sends one
chat:message (clientMessageId "py-<i>", acked), then waits until it holds
EXPECTED distinct messages (10 s at most) and half a second more, and
prints {"got": [{clientMessageId: times}, ...], "sids": [engine.io sid, ...]}.
"""
import json
import sys
import threading
import time

import socketio


def main():
    url, room, expected, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    clients, got, lock = [], [dict() for _ in tokens], threading.Lock()
    for i, token in enumerate(tokens):
        c = socketio.Client(reconnection=False)

        def on_message(m, i=i):
            with lock:
                key = m.get('clientMessageId')
                got[i][key] = got[i].get(key, 0) + 1

        c.on('chat:message', on_message)
        c.connect(url, transports=['polling'], auth={'token': token}, wait_timeout=5)
        answer = c.call('chat:join', room, timeout=5)
        if isinstance(answer, dict) and answer.get('error'):
            raise SystemExit(f'chat:join: {answer}')
        clients.append(c)
    print('joined', flush=True)
    sys.stdin.readline()
    for i, c in enumerate(clients):
        answer = c.call('chat:message', {'roomId': room, 'message': f'py {i}',
                                         'clientMessageId': f'py-{i}'}, timeout=8)
        if not isinstance(answer, dict) or answer.get('error'):
            raise SystemExit(f'chat:message: {answer}')
    deadline = time.time() + 10
    while time.time() < deadline:
        with lock:
            if all(len(g) >= expected for g in got):
                break
        time.sleep(0.05)
    time.sleep(0.5)
    sids = [c.eio.sid for c in clients]
    for c in clients:
        c.disconnect()
    with lock:
        print(json.dumps({'got': got, 'sids': sids}), flush=True)


if __name__ == '__main__':
    main()
