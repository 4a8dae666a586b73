"""Packaging for graphene-django-subscriptions."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "graphene_django_subscriptions/__init__.py").read_text(), re.M
).group(1)

setup(
    name="graphene-django-subscriptions",
    version=VERSION,
    description="Live model-change notifications for graphene-django over Django Channels.",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(include=["graphene_django_subscriptions", "graphene_django_subscriptions.*"]),
    include_package_data=True,
    python_requires=">=3.7",
    install_requires=[
        "Django>=2.2",
        "djangorestframework>=3.12",
        "graphene>=2.1.9",
        "graphene-django>=2.15",
        "channels>=1.1.8,!=2.*,!=3.*",
    ],
    extras_require={
        # Channels 1.x: the faithful stack of the 2018 package.
        "legacy": [
            "Django==2.2.28",
            "djangorestframework==3.12.4",
            "django-filter==2.4.0",
            "channels==1.1.8",
            "asgiref==1.1.2",
            "daphne==1.4.2",
            "channels-api==0.4.1",
            "graphene==2.1.9",
            "graphql-core==2.3.2",
            "graphql-relay==2.0.1",
            "graphene-django==2.15.0",
            "graphene-django-extras==0.4.9",
            "promise==2.3",
            "Rx==1.6.3",
        ],
        # Channels 4: today's stack.
        "modern": [
            "Django>=4.2",
            "channels>=4.3,<5",
            "daphne>=4.2,<5",
            "channels-redis>=4.3,<5",
            "graphene>=3.4,<4",
            "graphene-django>=3.2.3,<4",
            "graphene-django-extras>=1.0.1",
        ],
    },
    classifiers=[
        "Framework :: Django",
        "Framework :: Django :: 2.2",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
    ],
)
