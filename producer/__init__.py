"""The shopstream producer: simulated users and orders, sent to Kafka.

* :mod:`producer.derive`     exact weighted draws and the (seed, user_id) -> gender/region function
* :mod:`producer.generators` event factories (users, orders) built from ``conf/contract.yaml``
* :mod:`producer.schedule`   the original system's loop: initial users, users per loop, orders
* :mod:`producer.chaos`      malformed records, duplicates and late events for reliability tests
* :mod:`producer.options`    the run's options (validated first) and its librdkafka configuration
* :mod:`producer.runner`     the idempotent, keyed confluent-kafka loop
* :mod:`producer.accounting` delivery counters per record category and the run's summary

Importing this package opens no connection and starts no thread.
"""

from __future__ import annotations
