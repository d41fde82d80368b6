"""Redash as code: the query files in ``sql/redash/``, the dashboards built on them, the REST API.

* :mod:`shopstream.redash.queries` runs a query file against the mart with Redash's parameters
  (the report and ``shopstream mart ratios`` use it, so Redash and the CLI show the same numbers).
* :mod:`shopstream.redash.spec` is the one spec: queries, visualizations, one dashboard per entity.
* :mod:`shopstream.redash.api` creates or updates them by name through the Redash REST API.
"""
