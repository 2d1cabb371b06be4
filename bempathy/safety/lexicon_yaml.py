"""Reading the crisis lexicon's YAML files: line numbers, one-line errors, pattern text, ``{PIECE}`` and ``@CONCEPT``.

The lower half of :mod:`bempathy.safety.lexicon_data` (which checks and compiles the entries). A mapping keeps the
line it starts on, a key given twice is an error (YAML would keep the last silently), and every problem is a
:class:`LexiconError` whose one line names the file, the line, the entry and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import regex
import yaml

from bempathy.safety.folding import g

PLACEHOLDER = regex.compile(r"(?<!\\[pPN])\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {NAME}; not \p{L}, {2}, {0,3}
GAP = regex.compile(r"g([0-9]+)")  # {g3}: up to three words
CONCEPT_REF = regex.compile(r"@([A-Z][A-Z0-9_]*)")
UPPER_NAME = regex.compile(r"[A-Z][A-Z0-9_]*")


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the one-line message names the file, the entry and the problem."""


class Map(dict):
    """A YAML mapping that remembers the line it starts on and the line of each key (1-based)."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class _DuplicateKey(Exception):
    def __init__(self, line: int, key: str) -> None:
        super().__init__(line, key)
        self.line, self.key = line, key


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # the C parser when PyYAML has it (import time)
    pass


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode):
    data = Map()
    data.line = node.start_mark.line + 1
    yield data
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            if key_node.value in data.lines:
                raise _DuplicateKey(key_node.start_mark.line + 1, key_node.value)
            data.lines[key_node.value] = key_node.start_mark.line + 1
    data.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class File:
    """One lexicon file, read; :meth:`error` makes the one-line error for an entry of it."""

    def __init__(self, directory: Path, name: str, sections: Iterable[str] | None) -> None:
        self.path = Path(directory) / name
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise LexiconError(f"{self.path}: cannot read: {error.strerror or error}") from error
        try:
            data = yaml.load(text, Loader=_Loader)  # a SafeLoader that also checks keys
        except _DuplicateKey as error:
            raise LexiconError(f"{self.path}:{error.line}: key {error.key!r} given twice") from None
        except yaml.YAMLError as error:
            raise LexiconError(f"{self.path}: not valid YAML: {' '.join(str(error).split())}") from error
        if not isinstance(data, Map):
            raise LexiconError(f"{self.path}: expected a mapping at the top level, got {type(data).__name__}")
        self.data = data
        if sections is not None:
            self.fields(data, "", sections, required=sections, noun="section")

    def error(self, entry: str, problem: str, line: int = 0) -> LexiconError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return LexiconError(f"{where}: {entry}: {problem}" if entry else f"{where}: {problem}")

    def failer(self, entry: str, line: int = 0) -> Callable[[str], LexiconError]:
        """``error`` for one entry, for the helpers that find a problem deep inside a pattern."""
        return lambda problem: self.error(entry, problem, line)

    def fields(
        self, entry: Map, label: str, known: Iterable[str], required: Iterable[str] = (), noun: str = "field"
    ) -> None:
        """Every key of ``entry`` is one of ``known`` (its fields), and every ``required`` one is there."""
        known = tuple(known)
        for key in entry:
            if key not in known:
                raise self.error(label, f"unknown {noun} {key!r} (known: {', '.join(known)})", entry.line_of(key))
        for key in required:
            if key not in entry:
                raise self.error(label, f"missing {noun} {key!r}", entry.line)

    def mapping(self, value: Any, label: str, line: int) -> Map:
        if not isinstance(value, Map):
            raise self.error(label, f"expected a mapping, got {type(value).__name__}", line)
        return value

    def entries(self, section: str) -> list[tuple[str, Map]]:
        """The mappings of a list section, each with its label (``phrase_signals[3] bn_want_die``)."""
        items = self.data[section]
        if not isinstance(items, list):
            raise self.error(section, f"expected a list, got {type(items).__name__}", self.data.line_of(section))
        out = []
        for i, item in enumerate(items):
            label = f"{section}[{i}]"
            item = self.mapping(item, label, self.data.line_of(section))
            name = item.get("name")
            out.append((f"{label} {name}" if isinstance(name, str) else label, item))
        return out

    def text(self, value: Any, label: str, line: int) -> str:
        """A pattern or word list: a string; a multi-line one (a ``|-`` block) is joined with nothing between lines.

        A line of a multi-line pattern may not start or end with a space: editors strip trailing spaces, so such
        a space would be lost without a trace (break the line elsewhere, or write a single-quoted string).
        """
        if not isinstance(value, str) or not value.strip():
            raise self.error(label, f"expected non-empty text, got {type(value).__name__}", line)
        if "\n" not in value:
            return value
        lines = value.splitlines()
        for n, part in enumerate(lines, 1):
            if part != part.strip(" "):
                problem = f"line {n} of the pattern starts or ends with a space (break the line elsewhere)"
                raise self.error(label, problem, line)
        return "".join(lines)


def fill_pieces(
    text: str, pieces: dict[str, str], fail: Callable[[str], LexiconError], known: Iterable[str] | None = None
) -> str:
    """Replace ``{NAME}`` by piece NAME and ``{gN}`` by up to N words; an unknown name is ``fail(problem)``."""

    def piece(m: regex.Match) -> str:
        name = m.group(1)
        gap = GAP.fullmatch(name)
        if gap:
            return g(int(gap.group(1)))
        if name not in pieces:
            names = ", ".join(sorted(pieces if known is None else known)) or "none"
            raise fail(f"unknown piece {{{name}}} (known: {names}; {{gN}} is up to N words)")
        return pieces[name]

    return PLACEHOLDER.sub(piece, text) if "{" in text else text


def load_pieces(file: File) -> dict[str, str]:
    """pieces.yaml: name -> pattern text, pieces inside pieces filled in (a loop is an error)."""
    raw: dict[str, str] = {}
    lines = file.data.lines
    for name, value in file.data.items():
        if not isinstance(name, str) or not UPPER_NAME.fullmatch(name):
            raise file.error(f"piece {name!r}", "a piece name is upper case (A-Z, 0-9, _)", lines.get(name, 0))
        raw[name] = file.text(value, f"piece {name}", lines[name])
    done: dict[str, str] = {}

    def resolve(name: str, trail: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in trail:
            loop = " -> ".join("{" + n + "}" for n in (*trail[trail.index(name) :], name))
            raise file.error(f"piece {name}", f"pieces refer to each other in a loop: {loop}", lines[name])
        for ref in PLACEHOLDER.findall(raw[name]):
            if ref in raw:
                resolve(ref, (*trail, name))
        done[name] = fill_pieces(raw[name], done, file.failer(f"piece {name}", lines[name]), known=raw)
        return done[name]

    for name in raw:
        resolve(name, ())
    return {name: done[name] for name in raw}


def check_concept_refs(text: str, concepts: dict[str, Any], fail: Callable[[str], LexiconError]) -> None:
    """Every ``@NAME`` names a concept, and no ``@`` stands alone (concept names are upper case)."""
    for m in CONCEPT_REF.finditer(text):
        if m.group(1) not in concepts:
            raise fail(f"unknown concept @{m.group(1)} (concepts.yaml has no such name)")
    if text.count("@") != len(CONCEPT_REF.findall(text)):
        raise fail("an '@' that names no concept (write @NAME with NAME in upper case)")


def expand_concepts(source: str, concepts: dict[str, str]) -> str:
    """Replace every ``@NAME`` by concept NAME's alternation (concepts may name others)."""
    while "@" in source:
        source = CONCEPT_REF.sub(lambda m: "(?:" + concepts[m.group(1)] + ")", source)
    return source


def load_concepts(file: File, pieces: dict[str, str]) -> dict[str, str]:
    """concepts.yaml: name -> pattern text; every ``@NAME`` inside is known and no concept reaches itself."""
    concepts: dict[str, str] = {}
    lines = file.data.lines
    for name, value in file.data.items():
        if not isinstance(name, str) or not UPPER_NAME.fullmatch(name):
            raise file.error(f"concept {name!r}", "a concept name is upper case (A-Z, 0-9, _)", lines.get(name, 0))
        text = file.text(value, f"concept {name}", lines[name])
        concepts[name] = fill_pieces(text, pieces, file.failer(f"concept {name}", lines[name]))
    for name, text in concepts.items():
        check_concept_refs(text, concepts, file.failer(f"concept {name}", lines[name]))
    state: dict[str, int] = {}  # 1 while being visited, 2 when done

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = " -> ".join("@" + n for n in (*trail[trail.index(name) :], name))
            raise file.error(f"concept {name}", f"concepts refer to each other in a loop: {loop}", lines[name])
        state[name] = 1
        for ref in CONCEPT_REF.findall(concepts[name]):
            visit(ref, (*trail, name))
        state[name] = 2

    for name in concepts:
        visit(name, ())
    return concepts
