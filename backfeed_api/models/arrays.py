"""numpy arrays sent to PostgreSQL as ``bigint[]`` and ``double precision[]`` parameters in
PostgreSQL's binary array format, built by numpy in one pass.

psycopg would otherwise adapt a list element by element, and text (``{1.5,2.5}``) needs a
``repr`` per float: Python work per element either way, which a vote rewarding thousands of
earlier voters pays for each of its three arrays. The binary form is also exact by
construction. Every PostgreSQL connection of the service's engine knows them
(:func:`register_arrays`, called by ``models.session.get_engine``).

The other way, :func:`register_array_loaders` makes a cursor read ``bigint[]`` and
``double precision[]`` results sent in the binary format straight into numpy arrays, one
``frombuffer`` for the whole array instead of a Python object per element.
"""

from __future__ import annotations

import struct

import numpy as np
from psycopg.adapt import AdaptersMap, Dumper, Loader
from psycopg.pq import Format

INT8_OID, FLOAT8_OID = 20, 701
INT8_ARRAY_OID, FLOAT8_ARRAY_OID = 1016, 1022
TIMESTAMP_ARRAY_OID = 1115
POSTGRES_EPOCH_MICROS = 946_684_800_000_000
"""2000-01-01, where PostgreSQL's binary timestamps count their microseconds from."""


class PgArray:
    """A one-dimensional array without NULLs, already in PostgreSQL's binary format."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Int8Array(PgArray):
    """A ``bigint[]`` parameter: :func:`int8_array`."""


class Float8Array(PgArray):
    """A ``double precision[]`` parameter: :func:`float8_array`."""


def _binary(values: np.ndarray, element_oid: int, element_type: str) -> bytes:
    """The binary array: dimensions, flags, element type, size and lower bound, then each
    element as its length (8) and its big-endian value."""
    header = struct.pack("!iiIii", 1, 0, element_oid, len(values), 1)
    elements = np.empty(len(values), dtype=[("length", ">i4"), ("value", element_type)])
    elements["length"] = 8
    elements["value"] = values
    return header + elements.tobytes()


def int8_array(values: np.ndarray) -> Int8Array:
    """``values`` (integers) as a ``bigint[]`` parameter."""
    return Int8Array(_binary(np.asarray(values, np.int64), INT8_OID, ">i8"))


def float8_array(values: np.ndarray) -> Float8Array:
    """``values`` (floats) as a ``double precision[]`` parameter."""
    return Float8Array(_binary(np.asarray(values, np.float64), FLOAT8_OID, ">f8"))


class _ArrayDumper(Dumper):
    """Sends a :class:`PgArray` as it is, in the binary format."""

    format = Format.BINARY

    def dump(self, obj: PgArray) -> bytes:
        return obj.data


class _Int8ArrayDumper(_ArrayDumper):
    oid = INT8_ARRAY_OID


class _Float8ArrayDumper(_ArrayDumper):
    oid = FLOAT8_ARRAY_OID


def register_arrays(adapters: AdaptersMap) -> None:
    """Teach a psycopg connection's ``adapters`` to send :class:`Int8Array` and
    :class:`Float8Array` parameters."""
    adapters.register_dumper(Int8Array, _Int8ArrayDumper)
    adapters.register_dumper(Float8Array, _Float8ArrayDumper)


class _ArrayLoader(Loader):
    """Reads a one-dimensional binary array without NULLs of 8-byte elements as numpy."""

    format = Format.BINARY
    element_type: str
    dtype: type
    offset = 0

    def load(self, data) -> np.ndarray:
        dimensions, _, _ = struct.unpack_from("!iiI", data)
        if dimensions == 0:
            return np.empty(0, self.dtype)
        if dimensions != 1:
            raise ValueError(f"an array of {dimensions} dimensions, not 1")
        size = struct.unpack_from("!i", data, 12)[0]
        elements = np.frombuffer(data, [("length", ">i4"), ("value", self.element_type)], size, 20)
        if (elements["length"] != 8).any():
            raise ValueError("an array with NULLs or elements of another width")
        return elements["value"].astype(self.dtype) + self.offset


class _Int8ArrayLoader(_ArrayLoader):
    element_type, dtype = ">i8", np.int64


class _Float8ArrayLoader(_ArrayLoader):
    element_type, dtype = ">f8", np.float64


class _TimestampArrayLoader(_ArrayLoader):
    """``timestamp[]`` as microseconds since the Unix epoch: exact, and without the
    ``numeric`` arithmetic ``extract(epoch …)`` costs the server per row."""

    element_type, dtype, offset = ">i8", np.int64, POSTGRES_EPOCH_MICROS


def register_array_loaders(adapters: AdaptersMap) -> None:
    """Teach a psycopg cursor's ``adapters`` to read binary ``bigint[]``, ``double
    precision[]`` and ``timestamp[]`` (as microseconds since the Unix epoch) results as
    numpy arrays (one-dimensional, without NULLs)."""
    adapters.register_loader(INT8_ARRAY_OID, _Int8ArrayLoader)
    adapters.register_loader(FLOAT8_ARRAY_OID, _Float8ArrayLoader)
    adapters.register_loader(TIMESTAMP_ARRAY_OID, _TimestampArrayLoader)
