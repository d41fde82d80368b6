"""Package data: the contract, the profiles and the SQL, read with :mod:`importlib.resources`.

The top-level ``conf/`` and ``sql/`` folders are the only copy in git. ``shopstream/_data/conf``
and ``shopstream/_data/sql`` are symbolic links to them, so a source checkout (and an editable
install) reads the repository's files, and a wheel built from a clean checkout carries them as
package data (``setup.cfg`` ``package_data``; ``tests/test_packaging.py`` builds one and checks).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = "shopstream"
DATA = "_data"


def data_path(*parts: str) -> Path:
    """A file or folder of the package data, e.g. ``data_path("conf", "contract.yaml")``.

    pip installs packages unzipped, so the resource is a real file: callers that hand it to
    another process (Maven, spark-submit) get a :class:`~pathlib.Path`."""
    return Path(str(files(PACKAGE).joinpath(DATA, *parts)))


def conf_path(*parts: str) -> Path:
    """``conf/…`` (contract, profiles, jar manifests, Kafka Connect properties)."""
    return data_path("conf", *parts)


def sql_path(*parts: str) -> Path:
    """``sql/…`` (Redshift source SQL, PostgreSQL mart DDL, Redash queries)."""
    return data_path("sql", *parts)
