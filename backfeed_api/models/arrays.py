"""numpy arrays sent to PostgreSQL as ``bigint[]`` and ``double precision[]`` parameters in
PostgreSQL's binary array format, built by numpy in one pass.

psycopg would otherwise adapt a list element by element, and text (``{1.5,2.5}``) needs a
``repr`` per float: Python work per element either way, which a vote rewarding thousands of
earlier voters pays for each of its three arrays. The binary form is also exact by
construction. Every PostgreSQL connection of the service's engine knows them
(:func:`register_arrays`, called by ``models.session.get_engine``).
"""

from __future__ import annotations

import struct

import numpy as np
from psycopg.adapt import AdaptersMap, Dumper
from psycopg.pq import Format

INT8_OID, FLOAT8_OID = 20, 701
INT8_ARRAY_OID, FLOAT8_ARRAY_OID = 1016, 1022


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
