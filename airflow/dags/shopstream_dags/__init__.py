"""Helpers shared by the shopstream DAG files: targets (local | aws), commands, callbacks.

Nothing here does I/O or imports a provider at import time; everything that touches the
outside world runs inside a task.
"""
