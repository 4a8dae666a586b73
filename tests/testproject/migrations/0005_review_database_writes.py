from django.db import migrations

from graphene_django_subscriptions import ReportDatabaseWrites


class Migration(migrations.Migration):
    dependencies = [
        ("testproject", "0004_review"),
        ("graphene_django_subscriptions", "0009_orm_writes"),
    ]

    operations = [ReportDatabaseWrites("Review")]
