"""The throughput benchmark's clients: many WebSockets in one process of their own (asyncio, ``websockets``).

Run by ``throughput.py``, never by hand: ``clients.py URL COUNT MODE PK``. It
opens COUNT sockets and prints one JSON line, ``{"ready": [...]}``: the channel
ids (MODE ``package``: the driver subscribes them over HTTP) or nothing to do
(MODE ``standard``: each socket sent ``{"follow": PK}`` itself; MODE ``dcrf``:
each socket sent DCRF's ``subscribe_instance`` request itself; MODE
``graphql-ws``: each socket subscribed to ``userChanges`` over
graphql-transport-ws itself). From then on
every socket notes, for each notification, the ``first_name`` it carries and the
wall-clock time it arrived; once every socket has a label, it prints
``{"all": label}``. A line ``report`` on stdin makes it print
``{"frames": [[[label, time], ...], ...]}`` (one list per socket) and exit.
"""

import asyncio
import json
import sys
import time

import websockets

#: Sockets opening at the same moment.
OPENING = 64


async def open_socket(url, mode, pk, gate):
    async with gate:
        # The page's own origin, as a browser would send: the servers refuse others.
        origin = "http://" + url.split("/")[2]
        sock = await websockets.connect(
            url,
            origin=origin,
            max_queue=None,
            ping_interval=None,
            open_timeout=60,
            subprotocols=SUBPROTOCOLS.get(mode),
        )
        return sock, await HELLO[mode](sock, pk)


async def hello_package(sock, pk):
    """The socket's channel id, which the driver subscribes over HTTP."""
    return json.loads(await sock.recv())["channel_id"]


async def hello_standard(sock, pk):
    await sock.send(json.dumps({"follow": pk}))
    json.loads(await sock.recv())


async def hello_dcrf(sock, pk):
    await sock.send(json.dumps({"action": "subscribe_instance", "pk": pk, "request_id": pk}))
    reply = json.loads(await sock.recv())
    assert reply["response_status"] == 201, reply


#: Every socket sends the same operation: the server runs it once per change.
CHANGES = 'subscription { userChanges(id: "%s") { data { id username firstName lastName email } } }'


async def hello_graphql_ws(sock, pk):
    await sock.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await sock.recv()) == {"type": "connection_ack"}
    await sock.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": CHANGES % pk}}))
    # Served in order: the pong comes once the subscription is recorded.
    await sock.send(json.dumps({"type": "ping"}))
    reply = json.loads(await sock.recv())
    assert reply == {"type": "pong"}, reply


#: How a socket of each mode starts following user ``pk``: ``await HELLO[mode](sock, pk)``.
HELLO = {
    "package": hello_package,
    "standard": hello_standard,
    "dcrf": hello_dcrf,
    "graphql-ws": hello_graphql_ws,
}
SUBPROTOCOLS = {"graphql-ws": ["graphql-transport-ws"]}


def label_of(frame, mode):
    """The ``first_name`` a notification carries, or None for any other frame."""
    if mode == "dcrf":  # {"action": "update", "data": user, ...}
        data = frame.get("data") if frame.get("action") == "update" else None
    elif (
        mode == "graphql-ws"
    ):  # {"id": "1", "type": "next", "payload": {"data": {"userChanges": {"data": user}}}}
        changes = (
            frame.get("payload", {}).get("data", {}).get("userChanges")
            if frame.get("type") == "next"
            else None
        )
        user = changes.get("data") if isinstance(changes, dict) else None
        return user.get("firstName") if isinstance(user, dict) else None
    else:  # {"stream": ..., "payload": {..., "data": user}}
        payload = frame.get("payload")
        data = payload.get("data") if isinstance(payload, dict) else None
    return data["first_name"] if isinstance(data, dict) else None


async def listen(sock, mode, frames, tally, count):
    async for text in sock:
        arrived = time.time()
        label = label_of(json.loads(text), mode)
        if label is not None:
            frames.append((label, arrived))
            tally[label] = tally.get(label, 0) + 1
            if tally[label] == count:
                print(json.dumps({"all": label}), flush=True)


async def main(url, count, mode, pk):
    gate = asyncio.Semaphore(OPENING)
    opened = await asyncio.gather(*(open_socket(url, mode, pk, gate) for _ in range(count)))
    frames = [[] for _ in opened]
    tally = {}
    listeners = [
        asyncio.ensure_future(listen(sock, mode, seen, tally, count))
        for (sock, _), seen in zip(opened, frames)
    ]
    print(json.dumps({"ready": [channel_id for _, channel_id in opened]}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    for listener in listeners:
        listener.cancel()
    print(json.dumps({"frames": frames}), flush=True)
    await asyncio.gather(*(sock.close() for sock, _ in opened), return_exceptions=True)


if __name__ == "__main__":
    main_url, main_count, main_mode, main_pk = sys.argv[1:5]
    asyncio.run(main(main_url, int(main_count), main_mode, int(main_pk)))
