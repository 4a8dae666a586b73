"""The benchmark's yardstick: the standard Channels 4 way to tell sockets of a change (not the package).

A socket sends ``{"follow": pk}`` and its consumer joins the user's group;
each committed save of a user is serialized once, with the example's
serializer, and sent once to that group; each consumer forwards the text.
It runs only when ``GDS_BENCH_STANDARD`` is set, so that no other server
pays for it.
"""

import json
import os

from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.signals import post_save

from example.serializers import UserSerializer


def group_of(pk):
    return f"standard.user.{pk}"


class StandardConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        pk = json.loads(text_data)["follow"]
        await self.channel_layer.group_add(group_of(pk), self.channel_name)
        await self.send(text_data=json.dumps({"following": pk}))

    async def user_changed(self, event):
        await self.send(text_data=event["text"])


def _saved(sender, instance, created, **kwargs):
    def send():
        data = UserSerializer(instance).data
        text = json.dumps(
            {"stream": "users", "payload": {"action": "update", "model": "auth.user", "data": data}}
        )
        async_to_sync(get_channel_layer().group_send)(
            group_of(instance.pk), {"type": "user.changed", "text": text}
        )

    if not created:
        transaction.on_commit(send)


if os.environ.get("GDS_BENCH_STANDARD"):
    post_save.connect(_saved, sender=User, dispatch_uid="standard-consumer")
