"""The shopstream producer: simulated users and orders, sent to Kafka.

* :mod:`producer.derive`     exact weighted draws and the (seed, user_id) -> gender/region function
* :mod:`producer.generators` event factories (users, orders) built from ``conf/contract.yaml``
* :mod:`producer.schedule`   the original system's loop: initial users, users per loop, orders
* :mod:`producer.chaos`      malformed records, duplicates and late events for reliability tests
* :mod:`producer.runner`     the idempotent, keyed confluent-kafka loop with delivery accounting

Importing this package opens no connection and starts no thread.
"""

from __future__ import annotations
