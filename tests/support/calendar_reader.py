"""A strict reader of iCalendar text (RFC 5545), written from the RFC for the tests and
independent of TaskPilot's writer: it checks the physical form (CRLF line ends, no line over
75 octets, continuation lines starting with one space), unfolds, splits each content line
into name, parameters and value, and reads TEXT values back (`\\\\`, `\\;`, `\\,`, `\\n`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_OCTETS = 75


@dataclass
class Component:
    """A VCALENDAR or VEVENT: its properties (name → list of (parameters, raw value)) and
    the components inside it."""

    name: str
    properties: dict[str, list[tuple[dict[str, str], str]]] = field(default_factory=dict)
    children: list[Component] = field(default_factory=list)

    def raw(self, name: str) -> str:
        """The one value of property `name`, as written (escapes kept)."""
        values = self.properties[name]
        assert len(values) == 1, (name, values)
        return values[0][1]

    def text(self, name: str) -> str:
        """The one TEXT value of property `name`, unescaped."""
        return unescape(self.raw(name))

    def params(self, name: str) -> dict[str, str]:
        return self.properties[name][0][0]


def unescape(value: str) -> str:
    """A TEXT value read back; a backslash before anything else is an error (§3.3.11)."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            assert char not in ",;", f"unescaped {char!r} in a TEXT value: {value!r}"
            out.append(char)
            continue
        following = next(chars)
        assert following in "\\;,nN", f"bad escape \\{following} in {value!r}"
        out.append("\n" if following in "nN" else following)
    return "".join(out)


def split_text_list(value: str) -> list[str]:
    """A multi-valued TEXT property (CATEGORIES): split at unescaped commas, unescaped."""
    parts, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [unescape(part) for part in parts]


def physical_lines(body: bytes) -> list[bytes]:
    """The body's lines, checked: each ends with CRLF, none is longer than 75 octets."""
    assert body.endswith(b"\r\n"), "the last line must end with CRLF"
    lines = body[:-2].split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"a bare line break in {line!r}"
        assert len(line) <= MAX_OCTETS, f"{len(line)} octets: {line!r}"
        line.decode()  # a fold never splits a character
    return lines


def unfold(body: bytes) -> list[str]:
    """Content lines: each continuation (a line starting with a space or tab) joined to the
    line before it, without that one character."""
    logical: list[bytes] = []
    for line in physical_lines(body):
        if line[:1] in (b" ", b"\t"):
            assert logical, "a continuation line with nothing before it"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return [line.decode() for line in logical]


def _content_line(line: str) -> tuple[str, dict[str, str], str]:
    head, sep, value = line.partition(":")
    assert sep, f"no ':' in {line!r}"
    name, *params = head.split(";")
    parameters = dict(param.split("=", 1) for param in params)
    return name.upper(), parameters, value


def parse(body: bytes) -> Component:
    """The VCALENDAR in `body` (it must be the whole body)."""
    stack: list[Component] = []
    root: Component | None = None
    for line in unfold(body):
        name, params, value = _content_line(line)
        if name == "BEGIN":
            component = Component(value)
            if stack:
                stack[-1].children.append(component)
            stack.append(component)
        elif name == "END":
            done = stack.pop()
            assert done.name == value, f"END:{value} closes {done.name}"
            if not stack:
                root = done
        else:
            assert stack, f"{name} outside any component"
            stack[-1].properties.setdefault(name, []).append((params, value))
    assert root is not None and root.name == "VCALENDAR" and not stack
    return root
