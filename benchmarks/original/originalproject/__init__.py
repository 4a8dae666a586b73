"""A project serving the 2018 original, graphene-django-subscriptions 0.0.9, on Channels 1.

The throughput benchmark's ``original`` target (benchmarks/throughput.py): the
same users stream, mutations and endpoints as the test project, built only from
what 0.0.9 offers, as its README sets a project up. It runs in the
``bench-original`` tox env, where ``graphene_django_subscriptions`` is 0.0.9.
"""
