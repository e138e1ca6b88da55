"""Message content: variables with fallbacks, Markdown or restricted HTML (seed: "Using
Variables in Messages", "HTML Messages").

A message body is compiled once per version: variables are checked (an unknown name or a
bad `{{ … }}` is refused when the message is written, not when it is sent), the Markdown or
HTML is rendered and sanitised, and what stays per user is putting escaped values into
placeholders. A preview is the same compiled body rendered for one user, so it shows exactly
what will be sent.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import mistune
import nh3

from domain.errors import InvalidValue
from domain.user import User

STANDARD_VARIABLES = frozenset(
    {"first_name", "last_name", "name", "email", "user_id", "city", "country", "company_name"}
)
# A variable holds no brace, so the search is linear and `{{ a {{ b }}` leaves the first open.
TAG = re.compile(r"\{\{([^{}]*)\}\}")
# `\{{` writes a literal `{{`; a `}}` outside a variable is literal as it stands.
ESCAPED_OPEN = "\\{{"
VARIABLE = re.compile(
    r"""^\s*(?P<name>[^\s|{}"]+)\s*(?:\|\s*fallback\s*:\s*"(?P<fallback>[^"]*)"\s*)?$"""
)
# Private-use characters mark where values go: no message text contains them on purpose,
# and neither Markdown nor the sanitiser touches them.
OPEN, CLOSE, LITERAL_OPEN = "\ue000", "\ue001", "\ue002"
PLACEHOLDER = re.compile(f"{OPEN}(\\d+){CLOSE}")

# The seed's list for admin messages (headings, text formatting, tables, lists, images,
# YouTube/Vimeo iframes), plus what any written message needs: paragraphs, line breaks,
# links, quotes and code.
TAGS = {
    *(f"h{n}" for n in range(1, 7)),
    *("strong", "em", "sub", "sup", "small", "strike", "del", "s", "b", "i", "u"),
    *("table", "thead", "tbody", "tfoot", "th", "tr", "td"),
    *("ol", "ul", "li", "img", "iframe"),
    *("p", "br", "a", "blockquote", "code", "pre", "hr", "span", "div"),
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "iframe": {"src", "width", "height", "frameborder", "allowfullscreen"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
}
VIDEO = re.compile(r"^https://(www\.youtube\.com/embed/|player\.vimeo\.com/video/)[\w-]+")
EMPTY_IFRAME = re.compile(r"<iframe(?![^>]*\ssrc=)[^>]*>.*?</iframe>", re.DOTALL)
SOURCED = re.compile(r"<(img|iframe)\s[^<>]*\bsrc=\"[^\"]")  # as nh3 writes them: linear
MARKDOWN = mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])


@dataclass(frozen=True)
class Variable:
    name: str
    fallback: str


@dataclass(frozen=True)
class Body:
    """A compiled message body: sanitised HTML and plain text with numbered placeholders."""

    html: str
    text: str
    variables: tuple[Variable, ...]

    def render(self, values: Mapping[str, Any]) -> tuple[str, str]:
        """(HTML, plain text) for one user; missing or empty values take the fallback."""
        shown = [_value(values, v) for v in self.variables]
        as_html = PLACEHOLDER.sub(lambda m: html.escape(shown[int(m[1])]), self.html)
        as_text = PLACEHOLDER.sub(lambda m: shown[int(m[1])], self.text)
        return as_html, as_text


def _value(values: Mapping[str, Any], variable: Variable) -> str:
    found = values.get(variable.name)
    if found is None or (isinstance(found, str) and not found.strip()):
        return variable.fallback
    if isinstance(found, bool):
        return "true" if found else "false"
    if isinstance(found, float) and found.is_integer():
        return str(int(found))
    return str(found)


def variables_of(user: Mapping[str, Any]) -> dict[str, Any]:
    """What variables can show of a user row or profile: standard names, then custom data."""
    name = (user.get("name") or "").strip()
    parts = name.split()
    companies = user.get("companies") or []
    return {
        **(user.get("custom_attributes") or {}),
        "name": name or None,
        "first_name": parts[0] if parts else None,
        "last_name": " ".join(parts[1:]) or None,
        "email": user.get("email"),
        "user_id": user.get("user_id"),
        "city": user.get("city"),
        "country": user.get("country"),
        "company_name": companies[0].get("name") if companies else None,
    }


def user_variables(user: User, company_name: str | None = None) -> dict[str, Any]:
    """What variables show of a user as the aggregate holds them."""
    return variables_of(
        {
            "name": user.name,
            "email": user.email,
            "user_id": user.user_id,
            "city": user.city,
            "country": user.country,
            "custom_attributes": user.custom,
            "companies": [{"name": company_name}] if company_name else [],
        }
    )


def compile_body(
    source: str, markup: str, custom_keys: Collection[str] | None, field: str = "body"
) -> Body:
    """Check and render a body written as `markdown` or `html`; refuse what cannot be sent.

    `custom_keys` are the app's custom attributes when a message is written; None when it is
    sent (checked already; a user without the attribute gets the fallback)."""
    found: list[Variable] = []

    def placeholder(match: re.Match[str]) -> str:
        line = source.count("\n", 0, match.start()) + 1
        parsed = VARIABLE.match(match[1])
        if parsed is None:
            raise InvalidValue(
                field,
                f"line {line}: {match[0]!r} is not a variable; "
                'write {{ name }} or {{ name | fallback:"text" }}, or \\{{ for a literal {{',
            )
        name = parsed["name"]
        known = custom_keys is None or name in custom_keys
        if name not in STANDARD_VARIABLES and not known:
            standard = ", ".join(sorted(STANDARD_VARIABLES))
            raise InvalidValue(
                field,
                f"line {line}: unknown variable {name!r}; use {standard} or a custom attribute "
                "(or write \\{{ for a literal {{)",
            )
        found.append(Variable(name, parsed["fallback"] or ""))
        return f"{OPEN}{len(found) - 1}{CLOSE}"

    escaped = source.replace(LITERAL_OPEN, "").replace(ESCAPED_OPEN, LITERAL_OPEN)
    marked = TAG.sub(placeholder, escaped)
    if "{{" in marked:
        blanked = TAG.sub(lambda m: " " * len(m[0]), escaped)  # the same length as written
        line = escaped.count("\n", 0, blanked.index("{{")) + 1
        raise InvalidValue(
            field,
            f"line {line}: unbalanced {{{{: it opens no variable; write {{{{ name }}}}, "
            "or \\{{ for a literal {{",
        )
    if markup == "markdown":
        rendered = str(MARKDOWN(marked))
    elif markup == "html":
        rendered = marked
    else:
        raise InvalidValue("markup", "expected markdown or html")
    safe = sanitise(rendered).strip().replace(LITERAL_OPEN, "{{")
    text = html.unescape(nh3.clean(safe, tags=set())).strip()
    if not _visible(text) and not SOURCED.search(safe) and not PLACEHOLDER.search(safe):
        raise InvalidValue(
            field,
            "nothing is left after sanitising: write some text, an image or a video "
            "(tags outside the allowed list, and what is inside them, are removed)",
        )
    return Body(safe, text, tuple(found))


def shows_something(fragment: str) -> bool:
    """Sanitised HTML shows a reader something: visible text (not only spaces or invisible
    characters such as U+200B or a soft hyphen), an image or a video with its address."""
    return _visible(html.unescape(nh3.clean(fragment, tags=set()))) or bool(
        SOURCED.search(fragment)
    )


def _visible(text: str) -> bool:
    """Some character that is neither a space nor invisible (a format character: U+200B,
    a soft hyphen, a byte-order mark)."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


def sanitise(fragment: str, links: Callable[[str], str] | None = None) -> str:
    """Only the allowed tags and attributes; links and images over http(s) (or mailto);
    iframes only for YouTube or Vimeo players; no scripts, styles, handlers or comments.
    With `links`, each http(s) link's address is replaced by what it returns (tracking)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "iframe" and attribute == "src":
            return value if VIDEO.match(value) else None
        if links is not None and tag == "a" and attribute == "href":
            return links(value) if value.lower().startswith(("http://", "https://")) else value
        return value

    cleaned = nh3.clean(
        fragment,
        tags=TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        url_relative="deny",
    )
    return EMPTY_IFRAME.sub("", cleaned)


def conversation_html(text: str) -> str:
    """A conversation part as HTML: Markdown with any HTML in it escaped, then sanitised."""
    return sanitise(str(MARKDOWN(text))).strip()
