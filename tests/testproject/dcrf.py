"""The benchmark's peer: djangochannelsrestframework's model observer (not the package).

Two consumers, both with the example's serializer:

* ``DcrfConsumer`` follows DCRF's README, "Subscribing to a filtered list of
  models": a ``@model_observer`` with a serializer (each save is serialized
  once, before it crosses the channel layer) and groups of one user each;
* ``DcrfInstanceConsumer`` is the README's "Observing a Model instance":
  ``ObserverModelInstanceMixin``, whose consumers each re-read the row when a
  change reaches them (a query per socket and change), so back-to-back saves
  arrive as copies of the latest one: the benchmark counts those as lost and
  duplicated frames.

A socket sends ``{"action": "subscribe_instance", "pk": PK, "request_id": ID}``
(the mixin's request) and is answered
``{"errors": [], "data": null, "action": "subscribe_instance", "response_status": 201, "request_id": ID}``;
each committed save of that user then reaches it as
``{"errors": [], "data": user, "action": "update", "response_status": 200, "request_id": ID}``.
Both speak these frames. It is imported only when ``GDS_BENCH_DCRF`` is set: the class statement
connects DCRF's signal receivers, and only the bench-dcrf venv has DCRF.
"""

from django.contrib.auth.models import User
from djangochannelsrestframework.consumers import AsyncAPIConsumer
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.observer import model_observer
from djangochannelsrestframework.observer.generics import ObserverModelInstanceMixin

from example.serializers import UserSerializer


class DcrfConsumer(AsyncAPIConsumer):
    @model_observer(User, serializer_class=UserSerializer)
    async def user_change(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(data=message, action=action, request_id=request_id)

    @user_change.groups_for_signal
    def user_change(self, instance, **kwargs):
        yield f"-pk__{instance.pk}"

    @user_change.groups_for_consumer
    def user_change(self, pk=None, **kwargs):
        if pk is not None:
            yield f"-pk__{pk}"

    @action()
    async def subscribe_instance(self, pk, request_id, **kwargs):
        await self.user_change.subscribe(pk=pk, request_id=request_id)
        return None, 201


class DcrfInstanceConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = User.objects.all()
    serializer_class = UserSerializer
