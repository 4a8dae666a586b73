"""Filtered subscriptions: what a stream may be filtered on, the arguments clients write, which states match.

A Subscription declares ``Meta.filter_fields`` (graphene-django's form: a list
of fields for exact matches, or a dict of field → lookups) or
``Meta.filterset_class`` (a django-filter FilterSet). Its subscription fields
then take the arguments ``DjangoFilterConnectionField`` gives for the same
declaration (graphene-django builds them: ``author``, ``author_In``,
``title_Icontains``). A client's arguments become a ``Filter``: its parts with
their values as the model stores them, and a key that names its groups.

Whether an object matches is decided here, in Python, from the column values
a change committed and those it replaced, as the database would have: so a
change is judged as it committed, with no query, whatever is saved later
(the text rules follow the database's: see ``_fold``). What only the database
can judge (lookups across relations, a FilterSet's ``method=``, regular
expressions, text in the collation's order: ``queried`` parts) it judges, in
the saving transaction, through the declaration's FilterSet
(``Declaration.query``; see ``notifications._queried``).
"""

import datetime
import hashlib
import json
import re

import graphene
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone

from . import app_settings
from .protocols.common import CREATE, DELETE, UPDATE, ProtocolError
from .recent import Recent

#: Lookups that compare a column with the client's value.
COMPARING = ("exact", "gt", "gte", "lt", "lte")
#: Lookups on text, with the database's case rules.
TEXT = ("iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith")
#: Lookups on a date's or a timestamp's part, in the current time zone.
DATE_PARTS = ("year", "month", "day")
#: Every lookup a filter may use (each one decided in Python, as the database decides it).
LOOKUPS = COMPARING + TEXT + DATE_PARTS + ("in", "range", "isnull")

#: How a change's action reads to a filtered subscription, and why: ``(action, cause)``.
CREATED, UPDATED, DELETED, ENTERED, LEFT = "created", "updated", "deleted", "entered", "left"
#: Which state of the object an event shows: as the change left it, or as it found it (an object that
#: left the stream's scope is shown as it last was in it: its new state is not the stream's to show).
AFTER, BEFORE = "after", "before"

#: The route of a filter with no exact or ``in`` part on a plain column: every change is judged against it.
EVERY_CHANGE = "*"
#: The route of a filter found by any of several values (an ``in`` part's): its routes are kept one
#: per row (``models.FilterRoute``).
SEVERAL_VALUES = "+"
#: Columns whose equal values have one text (a timestamp's offset, a decimal's zeros would not).
_ROUTED_FIELDS = (
    models.IntegerField,
    models.AutoField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.UUIDField,
    models.DateField,
)


class Part:
    """One filter argument: the model ``field`` it reads, its ``lookup``, and whether it ``excludes``.

    A ``queried`` part is judged by the database (a lookup across relations, a
    ``method=`` filter, a regular expression...; ``field`` is None for a
    method), the others in Python from the stored columns.
    """

    def __init__(self, name, field, lookup, exclude=False, queried=False):
        #: The argument's Python name (``author__in``); the client writes it camel-cased.
        self.name = name
        self.field = field
        self.lookup = lookup
        self.exclude = exclude
        self.queried = queried
        #: Whether a filter with this part is found by the value a change stores (``route``), or by
        #: any of its values (an ``in`` part).
        column = None if queried else _column(field)
        self.routed = (
            lookup in ("exact", "in")
            and not exclude
            and isinstance(column, _ROUTED_FIELDS)
            and not isinstance(column, models.DateTimeField)  # a DateField subclass
        )

    @property
    def shown(self):
        """The argument as a client writes it (``author_In``)."""
        return camel(self.name)

    def value(self, given):
        """The client's value as the model stores it (a list for ``in``, ``range``), or ``ProtocolError``.

        A queried part keeps the value as given (JSON's types): its FilterSet reads it, as
        graphene-django's filters do (see ``Declaration.parse``).
        """
        if self.queried:
            given = _json_value(getattr(given, "value", given))  # an enum argument: its value
            if isinstance(given, list):
                self._count(given)
            if self.lookup in ("regex", "iregex"):
                self._pattern(given)
            return given
        if self.lookup == "isnull":
            if not isinstance(given, bool):
                raise ProtocolError(f"{self.shown} takes true or false (got {app_settings.echo(given)}).")
            return given
        if self.lookup in DATE_PARTS:
            return self._integer(given)
        if self.lookup in ("in", "range"):
            values = list(given) if isinstance(given, (list, tuple)) else [given]
            if self.lookup == "range" and len(values) != 2:
                raise ProtocolError(f"{self.shown} takes two values, the first and the last: [low, high].")
            self._count(values)
            return [self._stored(one) for one in values]
        if self.lookup in TEXT:
            if not isinstance(given, str):
                raise ProtocolError(f"{self.shown} takes text (got {app_settings.echo(given)}).")
            return given
        return self._stored(given)

    def _pattern(self, given):
        # The database would fail on each change it judges: refuse it now (Python's syntax is close to
        # the databases' for what a client writes; see ``notifications._queried`` for the rest).
        try:
            re.compile(str(given))
        except re.error as error:
            raise ProtocolError(
                f"{self.shown}: {app_settings.echo(given)} is no regular expression ({error})."
            ) from None

    def _count(self, values):
        most = app_settings.get("MAX_FILTER_VALUES")
        if not values:
            raise ProtocolError(f"{self.shown} is an empty list: give at least one value, or leave it out.")
        if len(values) > most:
            raise ProtocolError(
                f"{self.shown} lists {len(values)} values; a filter may list up to {most} "
                "(MAX_FILTER_VALUES): follow fewer, or several subscriptions."
            )

    def _integer(self, given):
        if isinstance(given, bool) or not isinstance(given, int):
            raise ProtocolError(f"{self.shown} takes a whole number (got {app_settings.echo(given)}).")
        return given

    def _stored(self, given):
        given = getattr(given, "value", given)  # an enum argument (a choice field, as a node types it)
        if given is None:
            raise ProtocolError(f"{self.shown} cannot hold null: leave the argument out instead.")
        try:
            value = _column(self.field).to_python(given)
        except (ValidationError, TypeError, ValueError) as invalid:
            reason = " ".join(invalid.messages) if isinstance(invalid, ValidationError) else str(invalid)
            raise ProtocolError(
                f"{self.shown}: {app_settings.echo(given)} is not a value of {self._described()} ({reason})."
            ) from None
        if isinstance(value, datetime.datetime) and timezone.is_naive(value) and settings.USE_TZ:
            value = timezone.make_aware(value)  # as Django reads a naive time in a query
        return value

    def _described(self):
        model = self.field.model
        return f"{model.__name__}.{self.field.name}"


def camel(name):
    """A Python argument name as graphene writes it: ``author__in`` is ``author_In``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] if part else "_" for part in rest)


def _column(field):
    """The field whose ``to_python`` reads a value of ``field`` (a foreign key's target field)."""
    while field.is_relation:
        field = field.target_field
    return field


def _is_text(field):
    return isinstance(_column(field), (models.CharField, models.TextField))


def _is_temporal(field):
    return isinstance(_column(field), (models.DateField, models.DateTimeField))


class Declaration:
    """What a Subscription may be filtered on: its ``parts`` by argument name, and its arguments."""

    def __init__(self, model, parts, filter_fields, filterset_class):
        self.model = model
        #: ``{argument name: Part}``, in the declaration's order.
        self.parts = parts
        #: ``Meta.filter_fields`` and ``Meta.filterset_class`` as the Subscription gave them (one is None).
        self.filter_fields = filter_fields
        self.filterset_class = filterset_class
        #: Whether some filter of it takes a query to judge (a ``queried`` part).
        self.queries = any(part.queried for part in parts.values())
        #: Whether a filter may be found by any of several values (``SEVERAL_VALUES``): an ``in`` part
        #: on a plain column.
        self.lists = any(part.routed and part.lookup == "in" for part in parts.values())
        self._filters = Recent(most=10_000, most_size=5_000_000, size=lambda key, value: len(key))
        self._filterset = None

    def filterset(self):
        """The FilterSet graphene-django makes of this declaration (its arguments, its queries): made once."""
        if self._filterset is None:
            from graphene_django.filter.utils import get_filterset_class

            if self.filterset_class is not None:
                self._filterset = get_filterset_class(self.filterset_class)
            else:
                self._filterset = get_filterset_class(None, model=self.model, fields=self.filter_fields)
        return self._filterset

    def query(self, chosen, queryset):
        """``queryset`` narrowed by the queried parts of the filter ``chosen``, as its FilterSet does."""
        filterset = self.filterset()(data=chosen.queried, queryset=queryset)
        if not filterset.is_valid():
            raise ProtocolError(self._invalid(filterset))
        return filterset.qs

    def _invalid(self, filterset):
        by_name = {name: part.shown for name, part in self.parts.items()}
        reasons = [
            f"{by_name.get(name, name)}: {' '.join(str(message) for message in messages)}"
            for name, messages in filterset.form.errors.items()
        ]
        return "Invalid filter. " + " ".join(reasons)

    def arguments(self):
        """Fresh graphene arguments, the ones ``DjangoFilterConnectionField`` gives for this declaration.

        Except ``year``, ``month`` and ``day`` lookups, which take an Int here.
        """
        from graphene_django.filter.utils import get_filtering_args_from_filterset
        from graphene_django.registry import get_global_registry

        arguments = get_filtering_args_from_filterset(
            self.filterset(), _TypeWithRegistry(get_global_registry())
        )
        for name, part in self.parts.items():
            if part.lookup in DATE_PARTS:
                # graphene-django types these as the field (a Date or DateTime), which no year is.
                arguments[name] = graphene.Argument(
                    graphene.Int, description=f"{part.field.name}: {part.lookup}"
                )
        return arguments

    def parse(self, arguments):
        """The ``Filter`` a client's ``arguments`` ask for (None without any); ``ProtocolError`` if bad.

        An argument given as null or "" is left out, as django-filter leaves out empty values.
        """
        given = {}
        for name, part in self.parts.items():
            value = arguments.get(name)
            if value is None or value == "":
                continue
            given[name] = part.value(value)
        if not given:
            return None
        chosen = Filter(self, given)
        if chosen.queried:
            self.query(chosen, self.model._default_manager.none())  # its FilterSet checks the values
        return chosen

    def parse_written(self, written, stream):
        """The ``Filter`` of a 2018 socket request's ``data.filter``: arguments as a client writes them
        (``{"author_In": [3, 4]}``), with JSON values; None for an empty one. ``ProtocolError`` if bad."""
        if not isinstance(written, dict):
            raise ProtocolError(
                'data.filter must be an object of filter arguments, e.g. {"author": 3, "title": "x"}.'
            )
        by_shown = {part.shown: name for name, part in self.parts.items()}
        for key in written:
            if key not in by_shown:
                raise ProtocolError(
                    f"Unknown filter {app_settings.echo(key)} on stream {stream!r}: choose from "
                    f"{', '.join(by_shown)}."
                )
        return self.parse({by_shown[key]: value for key, value in written.items()})

    def stored(self, text):
        """The ``Filter`` a subscription record holds as ``text`` (``Filter.text``), made once per process."""
        found = self._filters.get(text)
        if found is None:
            raw = json.loads(text)
            found = Filter(self, {name: self.parts[name].value(value) for name, value in raw.items()})
            self._filters.put(text, found)
        return found


def with_arguments(subscription, arguments):
    """``arguments`` and the stream's filter arguments, if it declares filters."""
    declaration = subscription._meta.filters
    if declaration is None:
        return arguments
    return {**arguments, **declaration.arguments()}


class _TypeWithRegistry:
    """What graphene-django's ``get_filtering_args_from_filterset`` reads of a type: its registry."""

    def __init__(self, registry):
        self._meta = type("Options", (), {"registry": registry})


def _json_value(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_value(one) for one in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)  # a Decimal or a UUID, read back by the field's to_python


class Filter:
    """A client's filter: ``values`` by argument name, as stored; ``key`` names its groups."""

    def __init__(self, declaration, values):
        self.declaration = declaration
        self.values = dict(sorted(values.items()))
        #: What a subscription record keeps of it: any process rebuilds it (``Declaration.stored``).
        self.text = json.dumps(
            {name: _json_value(value) for name, value in self.values.items()}, separators=(",", ":")
        )
        self.key = hashlib.sha1(self.text.encode("utf-8")).hexdigest()[:20]
        #: The values of its parts that take a query to judge (``Declaration.query``), by name.
        self.queried = {name: value for name, value in self.values.items() if declaration.parts[name].queried}
        #: Where a change looks it up: the route of its first exact part on a plain column (a change
        #: can only match it when its state before or after has that value); else, for an ``in`` part
        #: on one, ``SEVERAL_VALUES`` and the ``routes`` of its values; else ``EVERY_CHANGE``.
        self.route = EVERY_CHANGE
        self.routes = ()
        routed = [name for name in self.values if declaration.parts[name].routed]
        exact = [name for name in routed if declaration.parts[name].lookup == "exact"]
        if exact:
            self.route = route(exact[0], self.values[exact[0]])
        elif routed:
            # The ``in`` part listing the fewest values: the fewer routes, the fewer changes ask it.
            name = min(routed, key=lambda one: len(self.values[one]))
            found = sorted({route(name, value) for value in self.values[name]})
            self.route, self.routes = (found[0], ()) if len(found) == 1 else (SEVERAL_VALUES, tuple(found))

    def matches(self, instance, vendor):
        """Whether ``instance`` (an object as a change stored it) passes every part judged in Python, as
        ``vendor``'s database would decide (``"sqlite"``, ``"postgresql"``, ...)."""
        for name, given in self.values.items():
            part = self.declaration.parts[name]
            if part.queried:
                continue  # the database judged it (see ``read``)
            stored = part.field.value_from_object(instance)
            if _passes(part.lookup, stored, given, vendor) == part.exclude:
                return False
        return True


def route(name, value):
    """The route of ``name`` (an exact or ``in`` argument) holding ``value`` (as stored), a short digest."""
    text = f"{name}={json.dumps(_json_value(value))}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def routes(declaration, states):
    """The routes of the filters a change with ``states`` (its objects before and after) may concern."""
    found = {EVERY_CHANGE}
    for name, part in declaration.parts.items():
        if part.routed:
            for state in states:
                value = None if state is None else part.field.value_from_object(state)
                if value is not None:
                    found.add(route(name, value))
    return found


def _passes(lookup, stored, given, vendor):
    if lookup == "isnull":
        return (stored is None) == given
    if stored is None:
        return False  # SQL: NULL compares to nothing
    if lookup == "exact":
        return stored == given
    if lookup == "in":
        return stored in given
    if lookup in ("gt", "gte", "lt", "lte"):
        return _COMPARE[lookup](stored, given)
    if lookup == "range":
        return given[0] <= stored <= given[1]
    if lookup in DATE_PARTS:
        if isinstance(stored, datetime.datetime) and timezone.is_aware(stored):
            stored = timezone.localtime(stored)  # the database extracts in the current time zone
        return getattr(stored, lookup) == given
    return _text_passes(lookup, str(stored), given, vendor)


_COMPARE = {
    "gt": lambda stored, given: stored > given,
    "gte": lambda stored, given: stored >= given,
    "lt": lambda stored, given: stored < given,
    "lte": lambda stored, given: stored <= given,
}


def _text_passes(lookup, stored, given, vendor):
    insensitive = lookup.startswith("i") or vendor == "sqlite"  # SQLite's LIKE ignores ASCII case
    if insensitive:
        stored, given = _fold(stored, vendor), _fold(given, vendor)
    kind = lookup[1:] if lookup.startswith("i") else lookup
    if kind == "exact":
        return stored == given
    if kind == "contains":
        return given in stored
    if kind == "startswith":
        return stored.startswith(given)
    return stored.endswith(given)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text, vendor):
    """``text`` as the database compares it ignoring case.

    SQLite's LIKE folds ASCII letters only; PostgreSQL (``UPPER()`` on both
    sides) upper-cases each character, and a character whose capital is
    several (``ß``) stays as it is.
    """
    if vendor == "sqlite":
        return text.translate(_ASCII_LOWER)
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def relative(action, matched_before, matches_now):
    """``(action, cause)`` of a change as a filtered subscription hears it, or None when it hears nothing.

    ``action`` is what happened to the object (create, update, delete);
    ``matched_before`` and ``matches_now`` are whether its state before and
    after passes the filter (None before a create, after a delete).
    """
    if action == CREATE:
        return (CREATE, CREATED) if matches_now else None
    if action == DELETE:
        return (DELETE, DELETED) if matched_before else None
    if matched_before and matches_now:
        return (UPDATE, UPDATED)
    if matches_now:
        return (CREATE, ENTERED)
    if matched_before:
        return (DELETE, LEFT)
    return None


def sides(action, before, after):
    """``(before, after)`` of a change ``action``, None on the side where the object did not exist (before
    a create, after a delete): what a scope, a rule or a filter said of it, or the object itself."""
    return (None if action == CREATE else before, None if action == DELETE else after)


def read(chosen, action, states, held, vendor, queried=(True, True)):
    """``(action, cause)`` of a change as the filter ``chosen`` reads it, or None (see ``relative``).

    ``states`` are the object before and after the change (None where it did
    not exist); ``held`` says whether the stream's scope held it then (False:
    it did not, and it matches no filter there; None or True: it did, or the
    stream has no scope); ``queried`` whether the parts the database judges
    matched before and after (see ``notifications``).
    """
    before, after = states
    matched_before = None
    if before is not None:
        matched_before = held[0] is not False and bool(queried[0]) and chosen.matches(before, vendor)
    matches_now = None
    if after is not None:
        matches_now = held[1] is not False and bool(queried[1]) and chosen.matches(after, vendor)
    return relative(action, matched_before, matches_now)


def read_plainly(action, held):
    """``(action, cause)`` of a change to subscribers without a filter, or None when they hear nothing.

    ``held`` is None on a stream without a ``Meta.queryset`` (the change is as it
    happened), else whether the scope held the object before and after: an
    object that enters or leaves it is created or deleted for the stream. The
    cause is given only for those (ENTERED, LEFT): the others are what happened.
    """
    if held is None:
        return action, None
    reading = relative(action, *held)
    if reading is None or reading[1] in (ENTERED, LEFT):
        return reading
    return reading[0], None


def shown(cause, held):
    """Which state of the object an event of ``cause`` shows (``BEFORE`` or ``AFTER``; see ``read``).

    An object that left the stream's scope (``held`` after it is False) is shown
    as it last was inside: its new state is not the stream's to show.
    """
    return BEFORE if cause == LEFT and held is not None and held[1] is False else AFTER


# -- The declaration, checked as the Subscription class is made -----------------------------------------


class DeclarationError(TypeError):
    """A ``Meta.filter_fields`` or ``Meta.filterset_class`` that cannot work; the message says what to fix."""


def declare(model, filter_fields, filterset_class, reserved):
    """The ``Declaration`` of ``Meta.filter_fields`` / ``Meta.filterset_class`` (None without either).

    ``reserved`` are the argument names the subscription fields take already.
    """
    if filter_fields is None and filterset_class is None:
        return None
    try:
        import django_filters  # noqa: F401
    except ImportError:
        raise DeclarationError(
            "filter_fields and filterset_class need django-filter, as graphene-django's filters do: "
            "pip install django-filter."
        ) from None
    if filterset_class is not None:
        parts = _filterset_parts(model, filterset_class)
    else:
        parts = _field_parts(model, filter_fields)
    for name in parts:
        if name in reserved or camel(name) in reserved:
            raise DeclarationError(
                f"a filter named {name!r} would take the name of the field's own argument "
                f"{camel(name)!r}: filter on another field, or name the filter otherwise (filterset_class)."
            )
    return Declaration(model, parts, filter_fields, filterset_class)


def _field_parts(model, filter_fields):
    if isinstance(filter_fields, (list, tuple)):
        filter_fields = {name: ["exact"] for name in filter_fields}
    if not isinstance(filter_fields, dict) or not filter_fields:
        raise DeclarationError(
            "filter_fields must list fields, e.g. ['author', 'status'], or map fields to lookups, e.g. "
            f"{{'author': ['exact', 'in'], 'title': ['icontains']}} (got {filter_fields!r})."
        )
    parts = {}
    for field_name, lookups in filter_fields.items():
        where = f"filter_fields[{field_name!r}]"
        field, local = _filterable_field(model, field_name, where)
        if isinstance(lookups, str) or not isinstance(lookups, (list, tuple)) or not lookups:
            raise DeclarationError(f"{where} must list lookups, e.g. ['exact', 'in'] (got {lookups!r}).")
        for lookup in lookups:
            queried = _needs_query(field, lookup, where) or not local
            name = field_name if lookup == "exact" else f"{field_name}__{lookup}"
            parts[name] = Part(name, field, lookup, queried=queried)
    return parts


def _filterset_parts(model, filterset_class):
    from django_filters import FilterSet

    if not (isinstance(filterset_class, type) and issubclass(filterset_class, FilterSet)):
        raise DeclarationError(
            f"filterset_class must be a django-filter FilterSet (got {filterset_class!r})."
        )
    declared_model = getattr(filterset_class._meta, "model", None)
    if declared_model is not model:
        raise DeclarationError(
            f"filterset_class {filterset_class.__name__} filters "
            f"{getattr(declared_model, '__name__', None)}, but the serializer serializes {model.__name__}: "
            f"give a FilterSet whose Meta.model is {model.__name__}."
        )
    parts = {}
    for name, one in filterset_class.base_filters.items():
        where = f"filterset_class {filterset_class.__name__}'s filter {name!r}"
        exclude = bool(one.exclude)
        if one.method is not None or type(one).filter not in _plain_filterings():
            # Its own code decides what matches: the database runs it (see ``Declaration.query``).
            parts[name] = Part(name, None, one.lookup_expr, exclude=exclude, queried=True)
            continue
        field, local = _filterable_field(model, one.field_name, where)
        queried = _needs_query(field, one.lookup_expr, where) or not local
        parts[name] = Part(name, field, one.lookup_expr, exclude=exclude, queried=queried)
    if not parts:
        raise DeclarationError(f"filterset_class {filterset_class.__name__} declares no filter.")
    return parts


def _plain_filterings():
    """The ``filter`` methods that look a value up and nothing else (django-filter's, graphene-django's)."""
    from django_filters import filters as django_filters

    plain = {django_filters.Filter.filter, django_filters.ChoiceFilter.filter}
    try:
        from graphene_django.filter.filters import ListFilter  # graphene-django 3's ``in``
    except ImportError:  # graphene-django 2 keeps django-filter's
        return plain
    return plain | {ListFilter.filter}


def _filterable_field(model, field_name, where):
    """``(field, local)``: the model field ``field_name`` names (a path across relations, as a query
    writes it: ``author__username``), and whether it is a column of ``model`` itself."""
    if not isinstance(field_name, str) or not field_name:
        raise DeclarationError(f"{where}: {field_name!r} is no field name.")
    current, field = model, None
    for step in field_name.split("__"):
        if current is None:
            raise DeclarationError(
                f"{where}: {field_name!r} goes on past {field.name}, which is no relation."
            )
        try:
            field = current._meta.get_field(step)
        except FieldDoesNotExist:
            names = ", ".join(f.name for f in current._meta.get_fields())
            raise DeclarationError(
                f"{where}: {current.__name__} has no field {step!r}: choose from {names}."
            ) from None
        current = field.related_model if field.is_relation else None
    local = (
        "__" not in field_name
        and field.concrete
        and not field.many_to_many
        and not (field.is_relation and not field.many_to_one and not field.one_to_one)
    )
    return field, local


def _needs_query(field, lookup, where):
    """Whether ``lookup`` on ``field`` takes a query to judge (else Python judges it, see ``Filter.matches``).

    A lookup the field cannot take, or one that cannot mean anything on it, is refused.
    """
    if lookup not in LOOKUPS:
        if field.get_lookup(lookup) is None and field.get_transform(lookup) is None:
            raise DeclarationError(f"{where}: {field.name} takes no lookup {lookup!r}.")
        return True  # regex, a JSON key, a lookup of the project's: the database's own
    if field.is_relation and (field.many_to_many or not field.concrete):
        return True  # many objects or none: the database decides which match
    text = _is_text(field)
    if lookup in TEXT and not text:
        raise DeclarationError(f"{where}: {lookup!r} compares text, and {field.name} is not a text field.")
    if lookup in DATE_PARTS and not _is_temporal(field):
        raise DeclarationError(f"{where}: {lookup!r} reads a date, and {field.name} is no date or timestamp.")
    # Text in order is the database collation's order, which Python does not know.
    return lookup in ("gt", "gte", "lt", "lte", "range") and text
