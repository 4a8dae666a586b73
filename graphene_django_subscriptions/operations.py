"""A graphql-transport-ws ``subscribe`` payload, checked against the schema and made ready to run.

Three kinds of operation come out of ``prepare``: a subscription to a
``ChangesField`` (served by the package's delivery path), any other
subscription field (an async generator of the project's own, run by
graphql-core), and a query or mutation (one result). An event is run through
a ``Selection``: one per distinct document, operation name and variables in a
process, shared by every operation that sent the same, so that a change is
executed and encoded once for all of them.
"""

import json
import time
import weakref

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values, get_variable_values

from . import app_settings, changes
from .protocols import common
from .recent import Recent

CHANGES = "changes"
SUBSCRIPTION = "subscription"
SINGLE = "single"


class OperationErrors(Exception):
    """A payload that cannot run: ``errors`` are the GraphQL errors to answer with.

    ``cost`` is the thread time its document took to parse and validate (0.0 when it had been seen).
    """

    def __init__(self, errors, cost=0.0):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = list(errors)
        self.cost = cost


#: This process's documents already parsed and validated, as ``(document or None, errors)``: the same
#: document costs once. Keyed by schema, extra rules and text (``document_key``); a parsed document
#: takes about 140 bytes of memory per character of text, so at most 200,000 characters of text are kept.
checked_documents = Recent(most=256, most_size=200_000, size=lambda key, entry: len(key[-1]))


def document_key(schema, query, extra_rules=()):
    """The key of ``query`` in ``checked_documents``."""
    return (schema, tuple(extra_rules), query)


def _checked(schema, query, extra_rules):
    """``(document or None, errors, cost)``: from ``checked_documents``, else parsed and validated now."""
    key = document_key(schema, query, extra_rules)
    entry = checked_documents.get(key)
    if entry is not None:
        return (*entry, 0.0)
    started = time.thread_time()
    try:
        document = parse(query)
        errors = _too_costly_to_validate(document)
        if not errors:
            # graphql-core 3.2 raises some errors (a skipped subscription root, say) instead of returning.
            errors = validate(schema, document, [*specified_rules, *extra_rules] if extra_rules else None)
    except GraphQLError as error:
        document, errors = None, [error]
    entry = (document if not errors else None, list(errors))
    checked_documents.put(key, entry)
    return (*entry, time.thread_time() - started)


class Prepared:
    """A checked operation: its ``kind``, parsed ``document``, ``operation_name`` and raw ``variables``.

    ``variables`` holds the ones the operation declares, as the client sent them;
    ``cost`` is the thread time its document took to check (0.0 when it had been seen).

    A ``CHANGES`` operation also has the ``subscription`` it follows, its
    ``action``, ``pk`` and ``after`` arguments, the ``filter`` its filter
    arguments make (``filters.Filter``, or None), its ``selection``, and the
    ``name`` its document gives the operation (or None).
    """

    def __init__(self, kind, document, operation_name, variables):
        self.kind = kind
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        self.subscription = None
        self.action = None
        self.pk = None
        self.after = None
        self.filter = None
        self.name = None
        self.selection = None
        self.cost = 0.0


def _too_costly_to_validate(document):
    """Errors for a document one of whose selection sets repeats a response name too often.

    Validation compares every two fields of a selection set that share a
    response name (fragments spread in it included): the cost grows with the
    square of their number. ``MAX_REPEATED_FIELDS`` bounds it, in one pass over
    the document, before validation runs.
    """
    most = app_settings.get("MAX_REPEATED_FIELDS")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def names(selection_set, seen):
        # The response names of the fields a selection set holds, its fragments' included.
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield (selection.alias or selection.name).value
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in seen:  # cycles: validation's to say
                    yield from names(fragment.selection_set, seen | {fragment.name.value})
            elif selection.selection_set is not None:
                yield from names(selection.selection_set, seen)

    def selection_sets(node):
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            yield selection_set
            for selection in selection_set.selections:
                yield from selection_sets(selection)

    # Fragments spread in fragments can multiply: the whole pass counts at most this many fields.
    left = _MOST_FIELDS_COUNTED
    for definition in document.definitions:
        for selection_set in selection_sets(definition):
            counts = {}
            for name in names(selection_set, frozenset()):
                counts[name] = counts.get(name, 0) + 1
                left -= 1
                if counts[name] > most:
                    message = (
                        f"This document selects {name!r} more than {most} times in one selection "
                        "(aliases and fragments included): select it once."
                    )
                    return [GraphQLError(message, selection_set)]
                if left < 0:
                    message = "This document's fragments expand to too many fields: spread fewer."
                    return [GraphQLError(message, selection_set)]
    return []


#: The most fields ``_too_costly_to_validate`` counts in one document.
_MOST_FIELDS_COUNTED = 100_000


def prepare(schema, payload, extra_rules=()):
    """Parse and validate a subscribe ``payload`` against ``schema`` (a GraphQLSchema); a ``Prepared``.

    ``extra_rules`` are validation rules checked beside the specification's (a depth limit, say).
    """
    query = payload["query"]
    operation_name = payload.get("operationName")
    variables = payload.get("variables") or {}
    document, errors, cost = _checked(schema, query, extra_rules)
    if errors:
        raise OperationErrors(errors, cost)
    try:
        prepared = _prepare_checked(schema, query, document, operation_name, variables)
    except OperationErrors as failed:
        failed.cost = cost
        raise
    prepared.cost = cost
    return prepared


def _prepare_checked(schema, query, document, operation_name, variables):
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = (
            f"Unknown operation named {operation_name!r}."
            if operation_name is not None  # "" names no operation, as graphql-core's execute says
            else "Must provide operation name if query contains multiple operations."
        )
        raise OperationErrors([GraphQLError(message)])
    # Only what the operation declares is kept: the rest would be held, unread, as long as it lives.
    declared = {definition.variable.name.value for definition in operation.variable_definitions or ()}
    variables = {name: value for name, value in variables.items() if name in declared}
    if operation.operation != OperationType.SUBSCRIPTION:
        return Prepared(SINGLE, document, operation_name, variables)
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        raise OperationErrors(coerced)
    root = schema.subscription_type
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    # Validation allows one root field in a subscription (none, when a directive skips it).
    selected = list(collect_fields(schema, fragments, coerced, root, operation.selection_set).values())
    if not selected:
        raise OperationErrors(
            [GraphQLError("The subscription selects no field: it would never send anything.")]
        )
    field_nodes = selected[0]
    field = root.fields[field_nodes[0].name.value]
    subscription = changes.subscription_of(field)
    if subscription is None:
        return Prepared(SUBSCRIPTION, document, operation_name, variables)
    fields = _check_size(field_nodes, fragments)
    prepared = Prepared(CHANGES, document, operation_name, variables)
    arguments = get_argument_values(field, field_nodes[0], coerced)
    prepared.subscription = subscription
    prepared.action = common.enum_value(arguments.get("action"))
    prepared.pk = arguments.get("id")
    prepared.after = arguments.get("after")
    if subscription._meta.filters is not None:
        try:
            prepared.filter = subscription._meta.filters.parse(arguments)
        except common.ProtocolError as refused:
            raise OperationErrors([GraphQLError(str(refused), field_nodes)]) from None
    prepared.name = operation.name.value if operation.name else None
    prepared.selection = Selection.shared(schema, query, document, operation_name, variables, fields)
    return prepared


def _check_size(field_nodes, fragments):
    """The fields a ChangesField selection runs per event; refused beyond ``MAX_SELECTED_FIELDS``.

    Its selection runs for every change, for everyone's: a few aliases of a
    fragment of aliases would cost the whole process seconds each time.
    """
    most = app_settings.get("MAX_SELECTED_FIELDS")
    sizes = {}

    def size(selection_set):
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in sizes:  # validation refused cycles and unknown fragments
                    sizes[name] = size(fragments[name].selection_set)
                total += sizes[name]
            else:  # an inline fragment
                total += size(selection.selection_set)
            if total > most:
                break
        return total

    selected = sum(1 + size(node.selection_set) for node in field_nodes)
    if selected > most:
        raise OperationErrors(
            [
                GraphQLError(
                    f"This subscription selects more than {most} fields an event (aliases and fragments "
                    "included): select fewer."
                )
            ]
        )
    return selected


def result_payload(result):
    """The ``next`` payload of an ``ExecutionResult``: ``data``, and ``errors`` when there are any."""
    payload = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return payload


#: Replayed events as each selection ran them (``Selection.render_replayed``): sockets that resume
#: after the same cursor with the same operation cost one run of each change.
rendered_replays = Recent(most=5000, most_size=20_000_000, size=lambda key, payload: len(payload))


class Selection:
    """What one distinct operation makes of an event: run it, encode it, once per event."""

    _shared = weakref.WeakValueDictionary()

    def __init__(self, schema, document, operation_name, variables, fields):
        self.schema = schema
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        #: How many fields it runs per event (aliases and fragments expanded).
        self.fields = fields

    @classmethod
    def shared(cls, schema, query, document, operation_name, variables, fields):
        """The selection of this process for the same query, operation name and variables."""
        key = (id(schema), query, operation_name, json.dumps(variables, sort_keys=True))
        selection = cls._shared.get(key)
        if selection is None:
            selection = cls._shared[key] = cls(schema, document, operation_name, variables, fields)
        return selection

    def render_replayed(self, event):
        """``render``, kept in ``rendered_replays`` when ``event`` is the same for all (``shared``)."""
        shared = event.get("shared")
        if shared is None:
            return self.render(event)
        key = (self, shared)
        payload = rendered_replays.get(key)
        if payload is None:
            payload = self.render(event)
            rendered_replays.put(key, payload)
        return payload

    def render(self, event):
        """The JSON text of the ``next`` payload for ``event`` (a ``ChangeEvent``)."""
        result = execute(
            self.schema,
            self.document,
            root_value=event,
            operation_name=self.operation_name,
            variable_values=self.variables,
        )
        return json.dumps(result_payload(result), separators=(",", ":"))
