"""The words of an HTML email as lines of text, the way a mail client quotes them: the content
of each blockquote as "> " lines (nested ones as "> > "), so that the reply trimmer
(commands/trimming.py) treats HTML and plain-text replies alike: answers between quotes stay,
attribution lines go with their quote. History that is not in a blockquote is cut where it
starts: Outlook's reply separator and header block, Yahoo's quote block.

html5ever (in nh3) first reads the document into a regular form (tags in lower case, the
attributes looked at in double quotes, text escaped); what follows is plain string search and
patterns without nested repetition. html5ever's tree building grows with the square of the
nesting depth, so a document nested deeper than DEEPEST is read by stripping its tags instead.
"""

from __future__ import annotations

import html
import re

import nh3

KEPT_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "span"}
DROPPED = {"style", "script", "head", "title"}
HISTORY_CLASSES = frozenset({"yahoo_quoted", "OutlookMessageHeader"})
HISTORY_IDS = frozenset({"divRplyFwdMsg", "appendonsend", "yahoo_quoted"})
LONGEST_TAG = 4096
DEEPEST = 100
VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base"})
# Linear: each is a literal start and one class of characters up to a bracket.
TAG_OPENING = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
ANY_TAG = re.compile(r"<[^<>]*>")
LINE_BREAKS = re.compile(r"<br\b[^<>]*>|</(p|div|li|tr|h[1-6])\s*>", re.IGNORECASE)
BLOCKQUOTE = re.compile(r"<(/?)blockquote\b[^<>]*>")


def html_to_text(document: str) -> str:
    """The email's text with its blockquotes quoted ("> "), cut where unquoted history starts."""
    if too_deep(document):
        return html.unescape(ANY_TAG.sub(" ", LINE_BREAKS.sub("\n", document)))
    regular = nh3.clean(
        document,
        tags=KEPT_TAGS | {"blockquote"},
        attributes={"*": {"class", "id", "style"}},
        clean_content_tags=DROPPED,
    )
    start = history_start(regular)
    if start is not None:
        regular = regular[:start]
    return _quoted_text(regular)


def too_deep(document: str) -> bool:
    """Elements nest deeper than DEEPEST somewhere (counted roughly, in one pass)."""
    depth = 0
    for match in TAG_OPENING.finditer(document):
        name = match[2].lower()
        if name in VOID:
            continue
        depth = max(depth - 1, 0) if match[1] else depth + 1
        if depth > DEEPEST:
            return True
    return False


def _quoted_text(regular: str) -> str:
    """Text of a regular fragment, each top-level blockquote's own text quoted with "> "."""
    parts: list[str] = []
    depth, outside, inside = 0, 0, 0
    for match in BLOCKQUOTE.finditer(regular):
        if not match[1]:
            if depth == 0:
                parts.append(_plain(regular[outside : match.start()]))
                inside = match.end()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                quoted = _quoted_text(regular[inside : match.start()]).strip("\n")
                parts.append("\n" + "\n".join(f"> {line}" for line in quoted.split("\n")) + "\n")
                outside = match.end()
    parts.append(_plain(regular[outside:] if depth == 0 else regular[outside:inside]))
    return "".join(parts)


def _plain(fragment: str) -> str:
    return html.unescape(ANY_TAG.sub("", LINE_BREAKS.sub("\n", fragment)))


def history_start(regular: str) -> int | None:
    """Where unquoted history starts in a document as nh3 writes it: Outlook's reply
    separator and header block (its bordered div), Yahoo's quote block."""
    starts = [
        found
        for name in ("class", "id", "style")
        if (found := _first_marked(regular, name)) is not None
    ]
    return min(starts) if starts else None


def _first_marked(regular: str, name: str) -> int | None:
    needle = f' {name}="'
    position = 0
    while (found := regular.find(needle, position)) != -1:
        start = found + len(needle)
        end = regular.find('"', start)
        if end == -1:
            return None
        if _marks_history(name, regular[start:end]):
            window = max(0, found - LONGEST_TAG)
            opened = regular.rfind("<", window, found)
            if opened > regular.rfind(">", window, found):  # an attribute, not text
                return opened
        position = end + 1
    return None


def _marks_history(name: str, value: str) -> bool:
    if name == "class":
        return not HISTORY_CLASSES.isdisjoint(value.split())
    if name == "id":
        return value in HISTORY_IDS
    return "border-top:solid#e1e1e1" in value.replace(" ", "").lower()
