"""Raw archive (``connector`` the one configuration, ``local_worker`` the local Connect worker, ``reader``
the archive's reading for the ledger): shopstream's own Kafka Connect S3 sink (``connect/``)
keeps every event's bytes.

One configuration, two targets:

* ``conf/connect/sink-common.json`` + ``conf/connect/<entity>.json`` are the **portable**
  connector properties. Locally they go to a Kafka Connect standalone worker; on AWS Terraform
  reads the very same files (``jsondecode(file(...))``) into the MSK Connect connector.
* :func:`environment_properties` adds what differs per deployment but comes from the settings
  (bucket, region, dead-letter topic replication): Terraform derives the same keys from its
  variables.
* ``conf/connect/local.json`` holds the **local-only** key (the loopback S3 endpoint); it never
  reaches MSK Connect. Credentials come from the AWS SDK's default chain on both targets.

The plugin (``connect/``, built by ``shopstream jars`` into ``<jars>/connect-plugins``, see
:mod:`shopstream.connect_plugin`) runs with ``ByteArrayConverter``: values are never rewritten.
It reads each value's ``created_at`` (the contract's rule) and writes the original bytes, one
record per line, to ``<topic>/dt=YYYY-MM-DD/hh=HH/<topic>-<partition>-<first offset>`` of the
event's UTC hour. Offsets are committed only after every upload of a flush succeeded, so a crash
re-delivers from the last commit and the retried flush rewrites the same keys. A value that is
not a valid event goes to ``shopstream.archive.<entity>.dlq`` with Connect's error headers.

The worker runs as a detached JVM with its logs, PID, rendered properties and offsets file in
``<state_dir>/archive``; its REST API listens on 127.0.0.1 only. Nothing runs at import time.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """The archive could not be configured, started or read; the message says what to do."""
