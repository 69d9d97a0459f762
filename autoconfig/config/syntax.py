"""What is wrong with the text of a file, said at its line and column, with the fix where known.

YAML's own messages name the parser's state ("while scanning an alias", "did not find expected
'-' indicator"), and libyaml and the pure-Python parser word them differently. The mistakes admins
make most (an unquoted `*.domain` or `%PLACEHOLDER%`, a tab, a line indented to no column above
it, a colon inside a value or without a space after it) are recognised from the error and the text
of the line, and explained the same way whichever parser found them; only a hint that the text
confirms is given. Any other error keeps the parser's words. Bytes that are not UTF-8 are located
by line and column too, since an editor shows those, not byte offsets.
"""

import re
from dataclasses import dataclass

import yaml

from .diagnostics import NOT_YAML, UNREADABLE, Diagnostic

_KEY = re.compile(r"([A-Za-z0-9_][^:#]*?)\s*:(?:\s|$)")
"""A plain key at the start of a line's content: `hostname:` or `hostname: value`."""

_NO_SPACE_AFTER_COLON = re.compile(r"([A-Za-z_][\w.-]*):([^\s/:][^\s]*)$")
"""`port:993`: a key and its value with no space between the colon and the value."""

_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[\w-]")
"""An anchor defined somewhere: then `*name` may well be meant as an alias, not as text."""

_INDENTATION_PROBLEMS = ("expected '-' indicator", "expected key", "expected <block end>")


def undecodable(file: str, path: str, exc: UnicodeDecodeError) -> Diagnostic:
    """The first byte that is not UTF-8, at the line and column an editor shows."""
    data = bytes(exc.object)
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
    message = f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} ({exc.reason})"
    return Diagnostic(file, line, path, UNREADABLE, message)


def reader_error(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    """A character YAML does not allow (a raw control character, say), at its line."""
    line = text.count("\n", 0, exc.position) + 1
    message = f"not valid YAML: character {exc.character!r} not allowed"
    return Diagnostic(file, line, "", NOT_YAML, message)


def syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """A syntax error at the line an admin should look at, explained when it is a known mistake."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    explained = _explain(exc, lines)
    if explained is not None:
        line, message = explained
        return Diagnostic(file, line, "", NOT_YAML, f"not valid YAML: {message}")
    mark = _reported_mark(exc, text)
    number = _line_within(mark, text) if mark is not None else None
    message = " ".join(part for part in (exc.context, exc.problem) if part)
    return Diagnostic(file, number, "", NOT_YAML, f"not valid YAML: {message}")


def _reported_mark(exc: yaml.MarkedYAMLError, text: str) -> yaml.Mark | None:
    """The problem's place; where the construct started when the parser only noticed at the end.

    An unclosed quote or bracket is noticed at the end of the file, and its start is the line
    to fix.
    """
    mark = exc.problem_mark
    if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
        return exc.context_mark
    return mark


def _line_within(mark: yaml.Mark, text: str) -> int:
    """libyaml may place the end of the file one line past the last: lines stay in the text."""
    return min(mark.line + 1, text.rstrip().count("\n") + 1)


def _explain(exc: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, str] | None:
    """(line, message) for a mistake recognised from the error and its line, else None."""
    problem, context = exc.problem or "", exc.context or ""
    mark, start = exc.problem_mark, exc.context_mark
    if mark is None or mark.line >= len(lines):
        return None
    if start is not None and context in ("while scanning an alias", "while scanning an anchor"):
        return _must_be_quoted(lines, start)
    if "found undefined alias" in problem and not any(map(_ANCHOR.search, lines)):
        return _must_be_quoted(lines, mark)
    if "cannot start any token" in problem or "tab character" in problem:
        character = lines[mark.line][mark.column : mark.column + 1]
        if character == "\t":
            return mark.line + 1, _tab(lines[mark.line], mark.column)
        if character and not character.isspace():
            return _must_be_quoted(lines, mark)
        return None
    if "mapping values are not allowed" in problem:
        return mark.line + 1, _mapping_value(lines, mark)
    if "could not find expected ':'" in problem and start is not None:
        message = f"{context} {problem} (column {start.column + 1})".lstrip()
        hint = _missing_space(lines[start.line])
        return start.line + 1, message + (f"; {hint}" if hint else "")
    if any(words in problem for words in _INDENTATION_PROBLEMS):
        column = f"column {mark.column + 1}"
        message = _misindented(lines, mark.line) or f"{context} {problem} ({column})".lstrip()
        return mark.line + 1, message
    return None


def _starts_a_value(line: str, column: int) -> bool:
    """Whether a value begins at `column`: after `key: `, a list item's `-`, `[`, `{` or `,`.

    A character that cannot start a token elsewhere (after an unclosed quote ended on this line,
    say) is not a value to quote.
    """
    before = line[:column].rstrip()
    return not before.strip(" -") or before.endswith((":", "-", "[", "{", ","))


def _must_be_quoted(lines: list[str], mark: yaml.Mark) -> tuple[int, str] | None:
    """`*`, `&`, `%`, `@` or a backquote cannot start a plain value; the value, quoted."""
    line = lines[mark.line]
    if not _starts_a_value(line, mark.column):
        return None
    value = _value_at(line, mark.column)
    what = "value"
    key = _KEY.match(value)
    if not line[: mark.column].strip(" -") and key is not None:
        value, what = key.group(1), "key"
    quoted = "'" + value.replace("'", "''") + "'"
    message = (
        f"a {what} cannot start with {line[mark.column]!r} (column {mark.column + 1}); "
        f"quote this {what}: {quoted}"
    )
    return mark.line + 1, message


def _value_at(line: str, column: int) -> str:
    """The plain value that starts at `column`: to the end of the line, or of its flow item."""
    rest = line[column:]
    if _in_flow(line[:column]):
        rest = re.split(r"[,\]}]", rest, maxsplit=1)[0]
    return re.split(r"\s#", rest, maxsplit=1)[0].strip()


def _in_flow(before: str) -> bool:
    """Whether a position follows an unclosed `[` or `{` of its line (quoted text skipped)."""
    depth, quote = 0, ""
    for character in before:
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character in "[{":
            depth += 1
        elif character in "]}":
            depth = max(depth - 1, 0)
    return depth > 0


def _tab(line: str, column: int) -> str:
    where = f"(column {column + 1})"
    if not line[:column].strip(" \t-"):
        return f"tabs are not allowed for indentation {where}; indent with spaces"
    return f"a tab is not allowed here {where}; use a space"


def _mapping_value(lines: list[str], mark: yaml.Mark) -> str:
    """A second `: ` in a value, a line indented to no column above, or a missing space."""
    line = lines[mark.line]
    message = f"mapping values are not allowed in this context (column {mark.column + 1})"
    content = line[: mark.column].lstrip(" -")
    key = _KEY.match(content)
    if key is not None:
        value = _value_at(line, len(line) - len(line.lstrip(" -")) + key.end())
        if value and value[0] not in "'\"[{|>":
            quoted = "'" + value.replace("'", "''") + "'"
            return f"{message}: a value that holds ': ' must be quoted; quote this value: {quoted}"
    misindented = _misindented(lines, mark.line)
    if misindented is not None:
        return misindented
    previous = _previous_content(lines, mark.line)
    hint = _missing_space(lines[previous]) if previous is not None else None
    return f"{message}; line {previous + 1}: {hint}" if hint and previous is not None else message


def _previous_content(lines: list[str], index: int) -> int | None:
    """The index of the nearest line above with content (not blank, not only a comment)."""
    for number in range(index - 1, -1, -1):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def _missing_space(line: str) -> str | None:
    """`port:993` written for `port: 993`, in the words of the fix."""
    content = re.split(r"\s#", line.lstrip(" -"), maxsplit=1)[0].rstrip()
    found = _NO_SPACE_AFTER_COLON.match(content)
    if found is None:
        return None
    return f"put a space after the ':' of a key: write '{found[1]}: {found[2]}'"


@dataclass(frozen=True, slots=True)
class _Start:
    """Where something begins on a line: a list item's `-`, a key, or a value."""

    line: int
    column: int
    key: str | None
    item: bool

    def described(self) -> str:
        if self.item:
            return "the list item"
        return f"the key {self.key!r}" if self.key is not None else "the value"


def _starts(line: str, number: int) -> list[_Start]:
    """The `-` of each list item the line opens, then its key or value, by 1-based column."""
    starts = []
    column = len(line) - len(line.lstrip(" "))
    rest = line[column:]
    while rest == "-" or rest.startswith("- "):
        starts.append(_Start(number, column + 1, None, item=True))
        column += 1 + len(rest[1:]) - len(rest[1:].lstrip(" "))
        rest = line[column:]
    if rest and not rest.startswith("#"):
        key = _KEY.match(rest)
        starts.append(_Start(number, column + 1, key[1] if key else None, item=False))
    return starts


def _enclosing(lines: list[str], index: int) -> list[_Start]:
    """Every start above line `index` that a line below could line up with.

    That is the line just above, and each earlier line indented less than all lines after it:
    the list items and mappings that are still open.
    """
    found: list[_Start] = []
    limit = float("inf")
    for number in range(index - 1, -1, -1):
        line = lines[number]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        column = len(line) - len(line.lstrip(" ")) + 1
        if column >= limit:
            continue
        found.extend(start for start in _starts(line, number + 1) if start.column < limit)
        limit = column
        if column == 1:
            break
    return found


def _misindented(lines: list[str], index: int) -> str | None:
    """A line that starts at a column no open list item or mapping above it uses, said so."""
    own = _starts(lines[index], index + 1)
    above = _enclosing(lines, index)
    if not own or not above:
        return None
    column = own[0].column
    if any(start.column == column for start in above):
        return None
    shallower = [start for start in above if start.column < column]
    deeper = [start for start in above if start.column > column]
    neighbours = []
    if shallower:
        neighbours.append(max(shallower, key=lambda start: (start.column, start.line)))
    if deeper:
        neighbours.append(min(deeper, key=lambda start: (start.column, -start.line)))
    subject = "this line" if own[0].key is None and not own[0].item else own[0].described()
    subject = "this list item" if own[0].item else subject
    places = ", ".join(
        f"{start.described()} on line {start.line} is at column {start.column}"
        for start in neighbours
    )
    return (
        f"wrong indentation (column {column}): {subject} lines up with nothing above it; {places}"
    )
