"""Message content: variables with fallbacks, Markdown and restricted HTML, no XSS."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from domain.content import compile_body, variables_of
from domain.errors import InvalidValue

JOHN = variables_of({"name": "John Smith", "email": "j@x.io", "custom_attributes": {"plan": "pro"}})
NAMELESS = variables_of({"name": None, "email": "n@x.io"})


def test_the_seeds_greeting_uses_the_name_or_the_fallback() -> None:
    body = compile_body('Hey {{ first_name | fallback:"there"}}', "markdown", set())
    assert body.render(JOHN) == ("<p>Hey John</p>", "Hey John")
    assert body.render(NAMELESS) == ("<p>Hey there</p>", "Hey there")


def test_custom_attributes_are_variables_when_the_app_knows_them() -> None:
    body = compile_body("Your plan: **{{ plan }}**", "markdown", {"plan"})
    assert body.render(JOHN)[0] == "<p>Your plan: <strong>pro</strong></p>"
    assert body.render(NAMELESS)[0] == "<p>Your plan: <strong></strong></p>"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Hi\n{{ shoe_size }}", "line 2: unknown variable 'shoe_size'"),
        ('{{ first_name | fallbak:"x" }}', "is not a variable"),
        ('{{ first_name | fallback:"x }}', "is not a variable"),
        ("Hi {{ first_name", "unbalanced"),
        ("{{ }}", "is not a variable"),
    ],
)
def test_bad_variables_are_refused_when_the_message_is_written(source: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compile_body(source, "markdown", {"plan"})
    assert refused.value.field == "body"
    assert reason in refused.value.reason


def test_the_seeds_html_tags_survive() -> None:
    source = (
        "<h1>New</h1><h6>small print</h6><p><strong>a</strong><em>b</em><sub>c</sub><sup>d</sup>"
        "<small>e</small><strike>f</strike></p><table><thead><tr><th>h</th></tr></thead>"
        "<tbody><tr><td>x</td></tr></tbody><tfoot><tr><td>t</td></tr></tfoot></table>"
        '<ol><li>1</li></ol><ul><li>2</li></ul><img src="https://x.io/a.png" alt="a">'
        '<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>'
        '<iframe src="https://player.vimeo.com/video/76979871"></iframe>'
    )
    shown, _ = compile_body(source, "html", set()).render(JOHN)
    for tag in (
        "h1",
        "h6",
        "strong",
        "em",
        "sub",
        "sup",
        "small",
        "strike",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "th",
        "tr",
        "td",
        "ol",
        "ul",
        "li",
        "img",
    ):
        assert f"<{tag}" in shown, tag
    assert shown.count("<iframe") == 2


def test_iframes_only_embed_youtube_or_vimeo() -> None:
    source = '<iframe src="https://evil.example/x"></iframe><p>after</p>'
    shown, _ = compile_body(source, "html", set()).render(JOHN)
    assert "iframe" not in shown and "evil" not in shown
    assert "<p>after</p>" in shown


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    '<style>body{background:url("javascript:alert(1)")}</style>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style>",
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    '<a href="https://ok.io" onclick="alert(1)">ok</a>',
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<!--<script>alert(1)</script>-->",
    '<input autofocus onfocus="alert(1)">',
    '<details open ontoggle="alert(1)">',
]
SAFE_TAGS = {"p", "a", "img", "iframe", "strong", "em", "code", "pre", "del", "br", "div", "span"}


class Audit(HTMLParser):
    """Every element and attribute a browser would build from the output."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            url = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name.startswith("on") or name in ("srcdoc", "style", "formaction"):
                self.problems.append(f"{tag} {name}")
            if name in ("href", "src") and not url.startswith(("https:", "http:", "mailto:", "#")):
                self.problems.append(f"{tag} {name}={value}")


@pytest.mark.parametrize("payload", XSS)
@pytest.mark.parametrize("markup", ["html", "markdown"])
def test_known_xss_payloads_come_out_harmless(payload: str, markup: str) -> None:
    shown, _ = compile_body(f"Hi {{{{ name }}}}\n\n{payload}", markup, set()).render(
        variables_of({"name": payload})  # the user's own data is a payload too
    )
    audit = Audit()
    audit.feed(shown)
    assert audit.problems == [], shown


@pytest.mark.parametrize(
    ("source", "markup", "shown"),
    [
        ('Send {"a": {"b": 1}} as JSON}}', "markdown", '<p>Send {"a": {"b": 1}} as JSON}}</p>'),
        ("```\nfn() {}}\n```", "markdown", "<pre><code>fn() {}}\n</code></pre>"),
        (
            "Write \\{{ first_name }}: {{ first_name }}",
            "markdown",
            "<p>Write {{ first_name }}: John</p>",
        ),
        ("<p>Use \\{{ name }}</p>", "html", "<p>Use {{ name }}</p>"),
    ],
)
def test_literal_braces_are_text(source: str, markup: str, shown: str) -> None:
    html_part, text = compile_body(source, markup, set()).render(JOHN)
    assert html_part == shown
    assert "\\" not in text and "\ue002" not in text


@pytest.mark.parametrize("source", ["if (x) {{ y(); }}", "{{ a b }}", "Hi {{ name"])
def test_a_brace_pair_that_is_no_variable_says_how_to_write_it_literally(source: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compile_body(source, "markdown", set())
    assert "\\{{ for a literal {{" in refused.value.reason


@pytest.mark.parametrize(
    ("source", "markup"),
    [
        ("<svg><g/></svg>", "html"),
        ("<input type=checkbox checked>", "html"),
        ("<p> </p><script>x</script>", "html"),
        ("<img>", "html"),  # an image without an address shows nothing
        ('<img src="javascript:alert(1)">', "html"),
        ("&#8203;<p>\u200b</p>&shy;\ufeff", "html"),  # only invisible characters
        ("<style>{{ first_name }}</style>", "html"),  # its variable goes with the tag
        ("![](javascript:x)", "markdown"),
    ],
)
def test_a_body_with_nothing_left_after_sanitising_is_refused(source: str, markup: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compile_body(source, markup, set())
    assert refused.value.field == "body"
    assert "nothing is left after sanitising" in refused.value.reason


def test_an_image_or_a_variable_alone_is_a_body() -> None:
    assert compile_body('<img src="https://x.io/a.png">', "html", set()).html.startswith("<img")
    assert compile_body("{{ first_name }}", "html", set()).render(JOHN)[0] == "John"
