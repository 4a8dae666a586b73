"""graphene-django's ``GraphQLView``, made to run the 0.0.9 subscribe requests it refuses.

0.0.9 answers ``subscription { userSubscription(...) }`` over HTTP: its
resolver adds the socket to a group and returns an Observable of one result.
graphql-core 2.3 runs a subscription operation only when ``execute()`` gets
``allow_subscriptions=True``, and then returns that Observable instead of an
``ExecutionResult``. graphene-django 2.15 passes no such option and expects an
``ExecutionResult``. graphene-django-extras' ``ExtraGraphQLView.execute`` does
both, but graphene-django 2.15 never calls ``execute``: it runs documents
through a graphql-core backend. This view does the same with a backend.
"""

from graphene_django.views import GraphQLView as BaseGraphQLView
from graphql.backend import GraphQLCoreBackend
from rx import Observable


class SubscriptionsBackend(GraphQLCoreBackend):
    """graphql-core's own backend, with subscription operations allowed."""

    def __init__(self, executor=None):
        super().__init__(executor)
        self.execute_params["allow_subscriptions"] = True


class GraphQLView(BaseGraphQLView):
    """Serves queries and mutations as graphene-django does, and 0.0.9's subscribe requests."""

    def __init__(self, **kwargs):
        kwargs.setdefault("backend", SubscriptionsBackend())
        super().__init__(**kwargs)

    def execute_graphql_request(self, *args, **kwargs):
        result = super().execute_graphql_request(*args, **kwargs)
        if isinstance(result, Observable):
            # As ExtraGraphQLView.execute: the resolver's Observable has emitted
            # its one result by the time subscribe() returns.
            emitted = []
            result.subscribe(emitted.append)
            result = emitted[-1] if emitted else None
        return result
