"""Tables of the default parameters of contract kinds, read from the engine at build time.

``.. backfeed-parameters:: example dmag whitepaper1`` renders two tables: the contract-wide
parameters of each kind, then the parameters of each of its contribution types. The values
come from each kind's ``defaults``, so the tables cannot drift from the code.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes


def shown(value) -> str:
    """A parameter value as the tables show it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ", ".join(shown(item) for item in value)
    return str(value)


def list_table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """A ``list-table`` with one header row."""
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return [*lines, ""]


class ParametersDirective(SphinxDirective):
    """``.. backfeed-parameters:: <kind> [<kind>...]``."""

    required_arguments = 1
    optional_arguments = 20

    def run(self) -> list[nodes.Node]:
        from protocol import ContractParameters, ContributionType, load_kind

        classes = [(kind, load_kind(kind)) for kind in self.arguments]
        for _, cls in classes:  # re-read the page when a kind's defaults change
            self.env.note_dependency(inspect.getfile(cls))
        defaults = [(kind, cls.defaults) for kind, cls in classes]
        wide = [f.name for f in fields(ContractParameters) if f.name != "types"]
        per_type = [f.name for f in fields(ContributionType) if f.name != "name"]
        lines = list_table(
            "Contract-wide parameters",
            ["kind", *(f"``{name}``" for name in wide)],
            [[kind, *(shown(getattr(p, name)) for name in wide)] for kind, p in defaults],
        )
        lines += list_table(
            "Contribution types",
            ["kind / type", *(f"``{name}``" for name in per_type)],
            [
                [f"{kind} / {t.name}", *(shown(getattr(t, name)) for name in per_type)]
                for kind, p in defaults
                for t in p.types.values()
            ],
        )
        return nested_parse_to_nodes(
            self.state, "\n".join(lines), source="<backfeed-parameters>", offset=self.lineno
        )


def setup(app: Sphinx) -> dict:
    """Register the directive."""
    app.add_directive("backfeed-parameters", ParametersDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
