"""Test-only endpoints: server-side actions the GraphQL API does not offer."""

import contextlib
import contextvars
import json
import os
import threading
import time

from django.apps import apps
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.models import Token

from graphene_django_subscriptions import channel_ids, engines, registry
from graphene_django_subscriptions.models import (
    ChangeLogEpoch,
    LoggedChange,
    SubscriberSocket,
    SubscriptionRecord,
)
from graphene_django_subscriptions.outbox import outbox
from graphene_django_subscriptions.protocols import channels_api
from graphene_django_subscriptions.subscribe_requests import GroupMoves

from .models import Article, Bookmark, Marker, Note, Notebook, Review
from .schema import wait_at
from .streams import RUNS


def _body(request):
    return json.loads(request.body or b"{}")


@csrf_exempt
def create_user(request):
    """Create a user with any attributes (``is_staff`` included)."""
    user = User.objects.create(**_body(request))
    return JsonResponse({"id": user.pk})


@csrf_exempt
def change_user(request, pk):
    """Set any attributes of a user (``is_staff`` included) and save it: one update."""
    user = User.objects.get(pk=pk)
    for name, value in _body(request).items():
        setattr(user, name, value)
    user.save()
    return JsonResponse({"id": user.pk})


class Rollback(Exception):
    pass


@csrf_exempt
def rollback(request):
    """Create, update and delete users inside a transaction that rolls back."""
    body = _body(request)
    try:
        with transaction.atomic():
            user = User.objects.create(username=body["username"])
            if body.get("existing"):
                existing = User.objects.get(pk=body["existing"])
                existing.first_name = "rolled back"
                existing.save()
            user.delete()
            raise Rollback
    except Rollback:
        pass
    return JsonResponse({"rolled_back": True})


@csrf_exempt
def marked_commit(request):
    """Inside one transaction: create a user, then send the socket a marker frame.

    Notifications sent at save time would reach the socket before the marker;
    notifications sent on commit arrive after it.
    """
    body = _body(request)
    channel_name = channel_ids.resolve(body["channel_id"])
    with transaction.atomic():
        user = User.objects.create(username=body["username"])
        marker = channels_api.encode({"marker": "before-commit"})
        if engines.channels_major_version() == 1:
            # Channels 1 holds a view's sends until the view returns, after the commit: this one must
            # leave now, or the outbox, which sends at once, can deliver the change first.
            from channels import Channel

            Channel(channel_name).send({"text": marker}, immediately=True)
        else:
            engines.current().move_groups(channel_name, GroupMoves(), marker)
    return JsonResponse({"id": user.pk})


@csrf_exempt
def marker(request):
    """Save a new marker, as any change is saved; its label, unique to the run."""
    return JsonResponse({"label": Marker.objects.create(label=_body(request)["label"]).label})


@csrf_exempt
def broadcast(request):
    """Send ready-made text to one group: the bare fan-out the benchmark compares with."""
    body = _body(request)
    engines.current().send_to_groups([(body["group"], body["text"])])
    return JsonResponse({"sent": True})


def streams(request, app_label, model_name):
    """The streams of one model, in the order a change is delivered to them."""
    model = apps.get_model(app_label, model_name)
    return JsonResponse({"streams": [sub._meta.stream for sub in registry.for_model(model)]})


def runs(request):
    """How often the counted and owned streams' serializers and the owned stream's rule ran."""
    return JsonResponse(RUNS)


def groups(request):
    """The package's groups and their sockets: the in-memory layer's (legacy), the server process's (modern)."""
    if engines.channels_major_version() == 1:
        from channels import DEFAULT_CHANNEL_LAYER, channel_layers

        layer = channel_layers[DEFAULT_CHANNEL_LAYER].channel_layer
        table = {name: list(members) for name, members in layer._groups.items()}
    else:
        table = engines.current().local_groups()
    return JsonResponse(
        {name: members for name, members in table.items() if name.startswith("gds.") and members}
    )


def _user(body):
    """The user named ``body["username"]``, made when missing, with the ``permissions`` it lists.

    ``permissions`` are names such as ``"auth.change_user"``; ``groups`` names groups it joins.
    """
    user, _ = User.objects.get_or_create(username=body["username"])
    with transaction.atomic():
        # SQLite: adding a permission reads, then writes; a transaction that read first fails at
        # once ("database is locked") when another writes meanwhile, one that wrote first waits.
        Permission.objects.filter(pk=-1).update(name="")
        for name in body.get("permissions", ()):
            app_label, codename = name.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        for name in body.get("groups", ()):
            user.groups.add(Group.objects.get(name=name))
    return user


@csrf_exempt
def login(request):
    """Log the client in as the named user (see ``_user``); set the csrftoken cookie too."""
    user = _user(_body(request))
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    get_token(request)
    return JsonResponse({"id": user.pk})


@csrf_exempt
def change_password(request):
    """Set the logged-in user's password; their other sessions end, this one stays (Django's way)."""
    request.user.set_password(_body(request)["password"])
    request.user.save()
    update_session_auth_hash(request, request.user)
    return JsonResponse({"changed": True})


@csrf_exempt
def deactivate_quietly(request, pk):
    """Deactivate a user with a queryset update: no model signal is sent."""
    User.objects.filter(pk=pk).update(is_active=False)
    return JsonResponse({"id": pk})


@csrf_exempt
def logout(request):
    """Log the client's session out, through Django's ``logout()``."""
    auth_logout(request)
    return JsonResponse({"logged_out": True})


@csrf_exempt
def edit_after_save(request):
    """Save a user (a new one, or ``pk``) in a transaction, then change it in memory before the commit."""
    body = _body(request)
    with transaction.atomic():
        user = User.objects.get(pk=body["pk"]) if "pk" in body else User(username=body["username"])
        user.first_name = "committed"
        user.save()
        user.first_name = "never-saved"
    return JsonResponse({"id": user.pk})


@csrf_exempt
def token(request):
    """The DRF token of the named user (both made when missing): ``{"id": pk, "key": key}``."""
    user = _user(_body(request))
    made, _ = Token.objects.get_or_create(user=user)
    return JsonResponse({"id": user.pk, "key": made.key})


@csrf_exempt
def delete_token(request):
    """Delete a DRF token, as a project's logout-everywhere would."""
    Token.objects.filter(key=_body(request)["key"]).delete()
    return JsonResponse({"deleted": True})


@csrf_exempt
def forget_socket(request):
    """Delete a live socket's row, as another process's sweep would after a stall."""
    channel_name = channel_ids.resolve(_body(request)["channel_id"])
    _, deleted = SubscriberSocket.objects.filter(channel_name=channel_name).delete()
    return JsonResponse({"deleted": deleted.get(SubscriberSocket._meta.label, 0)})


_MODELS = {
    "user": User,
    "group": Group,
    "article": Article,
    "review": Review,
    "notebook": Notebook,
    "note": Note,
    "bookmark": Bookmark,
}


@csrf_exempt
def changes(request):
    """Run a list of saves and deletes back to back; return the ids of the objects they made.

    Each step is ``{"create": "user" | "group" | "article", "as": name, "set": {...}}``,
    ``{"load": "user" | "article", "pk": pk, "as": name}``, ``{"update": name,
    "set": {...}}``, ``{"delete": name}`` or ``{"wait": gate key}`` (until the
    test opens that gate). Besides the ids, the response says how many objects of each model the
    ``delete_where`` steps loaded (``loaded``). The ORM's bulk writes: ``{"bulk_create": model, "as":
    {name: {...}}}``, ``{"update_where": [name, ...], "set": {...}}``
    (``QuerySet.update()`` of those objects), ``{"bulk_update": {name: {...}},
    "fields": [...]}`` and ``{"delete_where": [name, ...]}``. Values are set as
    given (an ``author_id`` of ``"2"`` stays a string in memory, as a form would
    leave it). ``atomic`` runs them in one transaction. ``hold`` keeps this
    process's outbox busy until the last step is done, as a loaded server would
    be: every change is delivered after all of them are committed (with a
    gate's key as ``hold``: until the test opens that gate).
    """
    body = _body(request)
    gate = threading.Event()
    if isinstance(body.get("hold"), str):  # a gate's key: busy until the test opens that gate
        outbox.put(lambda: wait_at(body["hold"]) and False)
    elif body.get("hold"):
        outbox.put(lambda: gate.wait(10) and False)
    made, ids, loaded = {}, {}, {}
    try:
        with transaction.atomic() if body.get("atomic") else contextlib.nullcontext():
            for step in body["steps"]:
                if "wait" in step:
                    wait_at(step["wait"])
                elif "load" in step:
                    made[step["as"]] = _MODELS[step["load"]].objects.get(pk=step["pk"])
                elif "create" in step:
                    made[step["as"]] = obj = _MODELS[step["create"]](**step["set"])
                    obj.save()
                    ids[step["as"]] = obj.pk
                elif "bulk_create" in step:
                    _bulk_create(_MODELS[step["bulk_create"]], step["as"], made, ids)
                elif "update_where" in step:
                    _of(made, step["update_where"]).update(**step["set"])
                elif "bulk_update" in step:
                    for name, values in step["bulk_update"].items():
                        for field, value in values.items():
                            setattr(made[name], field, value)
                    objs = [made[name] for name in step["bulk_update"]]
                    type(objs[0]).objects.bulk_update(objs, step["fields"])
                elif "delete_where" in step:
                    token = _loading.set(loaded)
                    try:
                        _of(made, step["delete_where"]).delete()
                    finally:
                        _loading.reset(token)
                elif "update" in step:
                    obj = made[step["update"]]
                    for name, value in step["set"].items():
                        setattr(obj, name, value)
                    obj.save()
                else:
                    made[step["delete"]].delete()
    finally:
        gate.set()
    return JsonResponse({"ids": ids, "loaded": loaded})


#: ``{model label: count}`` of the project's objects built while a ``delete_where`` step runs (None: not
#: counted).
_loading = contextvars.ContextVar("loading", default=None)


def _count_loaded(sender, instance, **kwargs):
    counts = _loading.get()
    if counts is not None and sender._meta.app_label == "testproject":  # not the package's own rows
        counts[sender._meta.label] = counts.get(sender._meta.label, 0) + 1


post_init.connect(_count_loaded, weak=False)


def _bulk_create(model, rows, made, ids):
    objs = [model(**values) for values in rows.values()]
    model.objects.bulk_create(objs)
    for name, obj in zip(rows, objs):
        if obj.pk is None:  # Django 2.2 on SQLite does not give the keys back: the newest of that title
            obj.pk = model.objects.filter(title=obj.title).latest("pk").pk
        made[name], ids[name] = obj, obj.pk


def _of(made, names):
    """The objects ``names`` stand for, as one QuerySet (in the order of their keys)."""
    objs = [made[name] for name in names]
    return type(objs[0]).objects.filter(pk__in=[obj.pk for obj in objs]).order_by("pk")


def filter_routes(request, stream):
    """How changes find each filtered record of ``stream``: ``[{"filter", "route", "routes"}]``."""
    records = (
        SubscriptionRecord.objects.filter(stream=stream).exclude(filter_key="").prefetch_related("routes")
    )
    return JsonResponse(
        [
            {
                "filter": json.loads(one.filter),
                "route": one.filter_route,
                "routes": [r.route for r in one.routes.all()],
            }
            for one in records.order_by("filter", "action")
        ],
        safe=False,
    )


@csrf_exempt
def filtered(request):
    """The ids of the articles a stream's filter holds now (in its scope), by the database's own query.

    ``{"stream": ..., "filter": {argument's Python name: value}}``: with
    ``filter_fields`` each name is the ORM lookup itself; a ``filterset_class``
    is asked, as a DjangoFilterConnectionField asks it.
    """
    body = _body(request)
    subscription = registry.get(body["stream"])
    meta = subscription._meta
    # What an anonymous user sees of it: its scope, or what its per-recipient rule shows them.
    rows = subscription.get_queryset(AnonymousUser())
    if meta.filters.filterset_class is not None:
        filterset = meta.filters.filterset_class(data=body["filter"], queryset=rows)
        assert filterset.is_valid(), filterset.form.errors
        rows = filterset.qs
    else:
        rows = rows.filter(**body["filter"])
    return JsonResponse({"ids": sorted(rows.values_list("pk", flat=True))})


@csrf_exempt
def die_after_commit(request):
    """Save an article, and end this process at once, before its outbox sends anything: a crash after commit."""
    body = _body(request)
    outbox.put(lambda: time.sleep(60))  # busy: the change's delivery waits behind this
    Article.objects.create(title=body["title"], author_id=body["author"])  # committed (autocommit)
    os._exit(1)


def change_log(request):
    """The change log after ``?after=<position>``: its epoch and its entries, in position order."""
    rows = LoggedChange.objects.filter(position__gt=int(request.GET.get("after", 0))).order_by("position")
    entries = list(rows.values("stream", "action", "object_key", "position"))
    return JsonResponse({"epoch": ChangeLogEpoch.objects.get().epoch, "entries": entries})


@csrf_exempt
def commit_out_of_order(request):
    """Two transactions each create an article: the first to insert is held open while the second commits.

    On PostgreSQL the second commits first, although its row was numbered
    after the first's; on SQLite it waits for the first (one writer at a time).
    Returns the articles' ids and the titles in the order they committed.
    """
    author = _body(request)["author"]
    inserted, release, committed, ids = threading.Event(), threading.Event(), [], {}

    def create(title, before_commit):
        try:
            with transaction.atomic():
                ids[title] = Article.objects.create(title=title, author_id=author).pk
                before_commit()
            committed.append(title)
        finally:
            connection.close()

    first = threading.Thread(
        target=create, args=("numbered-first", lambda: (inserted.set(), release.wait(10)))
    )
    second = threading.Thread(target=create, args=("numbered-second", lambda: None))
    first.start()
    inserted.wait(10)
    second.start()
    second.join(1)  # on SQLite it waits for the first's lock: the first goes on after this
    release.set()
    first.join(10)
    second.join(10)
    return JsonResponse({"ids": ids, "committed": committed})
