"""A small, safe evaluator of the formulas that explain ledger entries, written for the
tests apart from the engine: numbers, names, ``+ - * / **``, parentheses, ``min`` and
``max``, and nothing else (no attribute, no subscript, no other call)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping

OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
FUNCTIONS = {"min": min, "max": max}


def evaluate(formula: str, inputs: Mapping[str, float]) -> float:
    """The value of ``formula`` with the names bound to ``inputs``; a ValueError for
    anything outside the grammar or an unknown name."""
    return float(_value(ast.parse(formula, mode="eval").body, inputs))


def _value(node: ast.AST, inputs: Mapping[str, float]) -> float:
    match node:
        case ast.Constant(value=bool()):
            raise ValueError("a boolean is not a number")
        case ast.Constant(value=int() | float() as number):
            return float(number)
        case ast.Name(id=name) if name in inputs:
            return float(inputs[name])
        case ast.Name(id=name):
            raise ValueError(f"unknown name {name!r}")
        case ast.BinOp(left=left, op=op, right=right) if type(op) in OPERATORS:
            return OPERATORS[type(op)](_value(left, inputs), _value(right, inputs))
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_value(operand, inputs)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _value(operand, inputs)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if (
            name in FUNCTIONS and args
        ):
            return FUNCTIONS[name](*(_value(arg, inputs) for arg in args))
    raise ValueError(f"not allowed in a formula: {ast.dump(node)}")


def agrees(formula: str, inputs: Mapping[str, float], delta: float) -> bool:
    """Whether ``formula`` over ``inputs`` gives ``delta`` to 1e-9 relative."""
    return math.isclose(evaluate(formula, inputs), delta, rel_tol=1e-9, abs_tol=0.0)
