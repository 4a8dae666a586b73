"""Group names are valid for every channel layer, and distinct for distinct subscriptions."""

import re

from graphene_django_subscriptions.fields import FieldCatalog
from graphene_django_subscriptions.groups import group_name

VALID_GROUP = re.compile(r"^[a-zA-Z\d\-_.]+$")
LONGEST_STREAM = "s" * 40


def test_group_names_stay_valid_for_long_streams_keys_and_field_selections():
    catalog = FieldCatalog([f"field_{n}" for n in range(120)], LONGEST_STREAM)
    widest = catalog.key_for(catalog.names)
    keys = ["", "5", "a" * 40, "550e8400-e29b-41d4-a716-446655440000", "name with spaces/and.dots"]
    names = set()
    for key in keys:
        for fields_key in ("all", "1", widest):
            name = group_name(LONGEST_STREAM, "update", key, fields_key)
            assert len(name) < 100 and VALID_GROUP.match(name), name
            names.add(name)
    assert len(names) == len(keys) * 3


def test_short_names_read_as_action_target_fields_and_stream():
    assert group_name("users", "update", "5", "3") == "gds.update.id-5.3.users"
    assert group_name("users", "create", "", "all") == "gds.create.all.all.users"
