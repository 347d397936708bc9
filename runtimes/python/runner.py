"""kubewasm's Python runtime: `host run script.py ARGS...` without a build step.

The host runs this component with the script's path as the first argument (the script
is the only file it can read, unless `--dir` grants more). The script runs as
`__main__` with `sys.argv` = [its path, ARGS...] and `import kubewasm` available.

componentize-py snapshots the interpreter after importing this module, so a module the
script imports must be imported here (the standard library's files are not in the
component): the list below is what scripts can use.
"""

import sys
import traceback
import types

# Importable by scripts: imported now, so they are in the snapshot.
import abc  # noqa: F401
import argparse  # noqa: F401
import ast  # noqa: F401
import base64  # noqa: F401
import binascii  # noqa: F401
import bisect  # noqa: F401
import calendar  # noqa: F401
import collections  # noqa: F401
import collections.abc  # noqa: F401
import contextlib  # noqa: F401
import copy  # noqa: F401
import csv  # noqa: F401
import dataclasses  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import difflib  # noqa: F401
import enum  # noqa: F401
import errno  # noqa: F401
import fnmatch  # noqa: F401
import fractions  # noqa: F401
import functools  # noqa: F401
import getopt  # noqa: F401
import gettext  # noqa: F401
import glob  # noqa: F401
import hashlib  # noqa: F401
import heapq  # noqa: F401
import hmac  # noqa: F401
import html  # noqa: F401
import io  # noqa: F401
import ipaddress  # noqa: F401
import itertools  # noqa: F401
import json  # noqa: F401
import locale  # noqa: F401
import logging  # noqa: F401
import math  # noqa: F401
import numbers  # noqa: F401
import operator  # noqa: F401
import os
import os.path  # noqa: F401
import pathlib  # noqa: F401
import pprint  # noqa: F401
import queue  # noqa: F401
import random  # noqa: F401
import re  # noqa: F401
import secrets  # noqa: F401
import shlex  # noqa: F401
import shutil  # noqa: F401
import statistics  # noqa: F401
import string  # noqa: F401
import struct  # noqa: F401
import textwrap  # noqa: F401
import time  # noqa: F401
import typing  # noqa: F401
import unicodedata  # noqa: F401
import urllib.parse  # noqa: F401
import uuid  # noqa: F401
import warnings  # noqa: F401
import weakref  # noqa: F401
import zlib  # noqa: F401

import kubewasm
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import environment, exit as wasi_exit

# What opening a path outside every granted directory fails with (no preopen matches:
# ENOENT, or ENOTCAPABLE; EACCES/EPERM for a read-only grant).
_NO_ACCESS = {errno.ENOENT, errno.EACCES, errno.EPERM, getattr(errno, "ENOTCAPABLE", 76)}


def _where(path, error):
    """`path:line` of the innermost frame of the script in the error's traceback."""
    line = None
    if isinstance(error, SyntaxError) and error.filename == path:
        line = error.lineno
    else:
        for frame, lineno in traceback.walk_tb(error.__traceback__):
            if frame.f_code.co_filename == path:
                line = lineno
    return f"{path}:{line}" if line else path


def _describe(path, error):
    """The one line (Denied: plus the rule) an uncaught error is reported with."""
    name = type(error).__name__
    if isinstance(error, SyntaxError):
        return f"{_where(path, error)}: SyntaxError: {error.msg}; fix the script"
    if isinstance(error, kubewasm.Denied):
        return f"{_where(path, error)}: {error}"
    if isinstance(error, ModuleNotFoundError):
        return (
            f"{_where(path, error)}: {name}: {error}; a script can import kubewasm and "
            "the standard library modules the runtime includes (runtimes/python/runner.py)"
        )
    if isinstance(error, OSError) and error.errno in _NO_ACCESS and error.filename is not None:
        return (
            f"{_where(path, error)}: {name}: cannot open {error.filename!r}: a script may "
            "read only its own file; grant a directory with `host run --dir DIR`"
        )
    text = str(error)
    return f"{_where(path, error)}: {name}: {text}" if text else f"{_where(path, error)}: {name}"


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


class _WholeWrites(io.RawIOBase):
    """A stdio file whose `write` writes all it is given.

    The interpreter's stdio is unbuffered: a write-through `TextIOWrapper` straight over
    a `FileIO`. WASI's `write` takes at most what the stream accepts at once (64 KiB for
    the host's stdout), and `TextIOWrapper` ignores a short count, so the rest of a large
    `print` or `sys.stdout.write` was silently lost. Writing stays unbuffered: each write
    has reached the host when it returns, so output before a limit stops the script is
    still seen.
    """

    def __init__(self, raw):
        super().__init__()
        self._raw = raw

    def writable(self):
        return True

    def fileno(self):
        return self._raw.fileno()

    def isatty(self):
        return self._raw.isatty()

    def write(self, data):
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            written = self._raw.write(view)
            if not written:
                raise BlockingIOError(
                    errno.EAGAIN, "the output stream took nothing", total - len(view)
                )
            view = view[written:]
        return total


def _whole_writes(stream):
    """`stream` (`sys.stdout` or `sys.stderr`) over a file that writes whole buffers."""
    if not isinstance(stream.buffer, io.FileIO):
        return stream
    return io.TextIOWrapper(
        _WholeWrites(stream.buffer),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=True,
    )


def main(argv):
    if not argv:
        print("error: no script: run `host run SCRIPT.py [ARGS...]`", file=sys.stderr)
        return 2
    path = argv[0]
    sys.argv = list(argv)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        print(f"error: cannot read the script {path}: {e.strerror}", file=sys.stderr)
        return 2
    main_module = types.ModuleType("__main__")
    main_module.__file__ = path
    main_module.__builtins__ = __builtins__
    sys.modules["__main__"] = main_module
    try:
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main_module.__dict__)
    except SystemExit as e:
        return _exit_code(e.code)
    except BrokenPipeError:
        # `host run x.py | head`: the reader has what it wanted; not an error.
        return 0
    except BaseException as e:  # noqa: BLE001 - every uncaught error is reported
        if "KUBEWASM_TRACEBACK" in os.environ:
            traceback.print_exc()
        print(f"error: {_describe(path, e)}", file=sys.stderr)
        return 1
    return 0


class Run(exports.Run):
    def run(self) -> None:
        # The interpreter was initialized at build time: take this run's environment.
        os.environ.clear()
        os.environ.update(environment.get_environment())
        sys.stdout = _whole_writes(sys.stdout)
        sys.stderr = _whole_writes(sys.stderr)
        code = main(environment.get_arguments())
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BrokenPipeError:
                pass
        if code != 0:
            wasi_exit.exit_with_code(code)
