"""The settings reference, generated from the declarations of ``backfeed_api/settings.py``.

``.. backfeed-settings::`` renders one table, a row per declared setting in the order of
the declarations: its name, its default and its doc. A setting is documented by declaring
it, so the table cannot drift from the code.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes


def settings_table() -> list[str]:
    """The ``list-table`` of every declared setting, as reStructuredText lines."""
    from backfeed_api.settings import DECLARED

    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 20 50", ""]
    lines += ["   * - setting", "     - default", "     - meaning"]
    for setting in DECLARED.values():
        lines += [
            f"   * - ``{setting.name}``",
            f"     - {setting.default_text}",
            f"     - {setting.doc}",
        ]
    return [*lines, ""]


class SettingsDirective(SphinxDirective):
    """``.. backfeed-settings::``."""

    def run(self) -> list[nodes.Node]:
        from backfeed_api import settings

        self.env.note_dependency(settings.__file__)  # re-read the page when a setting changes
        return nested_parse_to_nodes(
            self.state,
            "\n".join(settings_table()),
            source="<backfeed-settings>",
            offset=self.lineno,
        )


def setup(app: Sphinx) -> dict:
    """Register the directive."""
    app.add_directive("backfeed-settings", SettingsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
