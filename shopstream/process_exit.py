"""How a command-line process of shopstream ends."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` via ``os._exit``, after Python's exit handlers and a flush.

    The C++ libraries some commands load (pyarrow's and delta-rs' thread pools) can abort while
    the interpreter tears them down ("terminate called without an active exception", SIGABRT)
    after the command already finished and printed its result; the caller (a shell, an Airflow
    task) would then see a failure. Nothing is lost: exit handlers have run and output is flushed.
    """
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
