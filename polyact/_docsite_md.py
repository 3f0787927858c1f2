"""A Markdown extension for the generated site (loaded by MkDocs, not by polyact).

polyact's docstrings are written for ``help()`` and doctest: bare ``>>>``
sessions and Sphinx roles (``:func:`get_activation```). This preprocessor
turns each ``>>>`` session into a fenced ``pycon`` block and each role into
inline code, outside fenced code, so that mkdocstrings renders them cleanly.
"""

from __future__ import annotations

import re
from typing import Any, List

from markdown import Extension
from markdown.preprocessors import Preprocessor

__all__ = ["DocstringExtension", "makeExtension"]

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def _role(m: re.Match) -> str:
    short, target = m.group(1), m.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class _Doctest(Preprocessor):
    def run(self, lines: List[str]) -> List[str]:
        out: List[str] = []
        fence = ""
        session = None  # the indentation of the open >>> session
        for line in lines:
            text = line.lstrip()
            indent = line[: len(line) - len(text)]
            if session is not None:
                if text and indent.startswith(session):
                    out.append(line)
                    continue
                out += [session + "```", ""]
                session = None
            if fence:
                out.append(line)
                if text.startswith(fence):
                    fence = ""
                continue
            m = FENCE.match(line)
            if m:
                fence = m.group(1)
                out.append(line)
                continue
            if text.startswith(">>>"):
                if out and out[-1].strip():
                    out.append("")
                out.append(indent + "```pycon")
                out.append(line)
                session = indent
                continue
            out.append(ROLE.sub(_role, line))
        if session is not None:
            out.append(session + "```")
        return out


class DocstringExtension(Extension):
    """Doctest sessions as code blocks and Sphinx roles as inline code."""

    def extendMarkdown(self, md: Any) -> None:
        md.preprocessors.register(_Doctest(md), "polyact_doctest", 40)


def makeExtension(**kwargs: Any) -> DocstringExtension:
    return DocstringExtension(**kwargs)
