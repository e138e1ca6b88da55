"""The new words of a reply email: quoted history, signatures and mobile sign-offs left out.

One pass over the lines, each looked at with at most a few lines of look-ahead, by plain string
tests (no regular expression that could backtrack on crafted text). What is quoted ("> …") is
left out wherever it stands, so a reply written below the quote (bottom-posting) or between
quoted paragraphs keeps every word the user wrote; an attribution line ("On … wrote:", in many
languages, possibly wrapped over three lines) goes with the quote it introduces. History that is
not quoted (an Outlook header block, an "Original Message" separator, an attribution followed by
unquoted text), a signature ("-- ") or a mobile sign-off ("Sent from my iPhone") ends the reply.
If trimming would leave nothing, the whole text is kept: a user's words are never dropped.
"""

# ruff: noqa: RUF001 (letters of other alphabets and full-width colons are meant)
from __future__ import annotations

import html
import re

import nh3

# Header names of a forwarded or replied-to email's header block, lowercased, by language:
# English, German, French, Spanish, Italian, Portuguese, Dutch, Polish, Russian, Swedish,
# Norwegian, Danish, Finnish, Vietnamese, Japanese, Chinese (simplified and traditional).


def _listed(*groups: str) -> frozenset[str]:
    return frozenset(name.strip() for group in groups for name in group.split(","))


FROM_KEYS = _listed(
    "from, von, de, van, da, od, от, från, fra, lähettäjä, từ, message du",
    "差出人, 发件人, 寄件者, 寄件人",
)
OTHER_KEYS = _listed(
    "sent, date, to, subject, cc, bcc, reply-to",
    "gesendet, datum, an, betreff, kopie",
    "envoyé, envoyé le, à, a, objet, sujet, copie, copie à",
    "enviado, enviado el, fecha, para, asunto",
    "inviato, inviato il, data, oggetto",
    "enviada em, assunto",
    "verzonden, verstuurd, aan, onderwerp",
    "wysłano, wysłane, do, temat, dw",
    "отправлено, дата, кому, тема, копия",
    "skickat, till, ämne, kopia",
    "sendt, dato, til, emne, kopi",
    "lähetetty, päivämäärä, vastaanottaja, aihe, kopio",
    "đã gửi, ngày, tới, đến, chủ đề",
    "送信日時, 日付, 宛先, 件名, 发送时间, 日期, 收件人, 主题, 抄送, 傳送時間, 收件者, 主旨, 副本",
)
# What attribution lines end with ("… wrote:"), lowercased.
WROTE = (
    "wrote",
    "writes",
    "schrieb",
    "écrit",
    "escribió",
    "scritto",
    "escreveu",
    "schreef",
    "geschreven",
    "napisał",
    "napisał(a)",
    "napisała",
    "написал",
    "написал(а)",
    "написала",
    "skrev",
    "kirjoitti",
    "viết",
    "写道",
    "寫道",
    "書きました",
)
# What an attribution without a date starts with ("On Tuesday, Ann wrote:"), lowercased.
OPENERS = ("on ", "le ", "am ", "el ", "il ", "op ", "em ", "den ", "dnia ", "в ", "vào ", "在")
# Mobile and mail-app sign-offs: the line starts with one of these (lowercased), and at most a
# few words (the device) and a link follow.
SIGN_OFFS = (
    "sent from my ",
    "sent from ",
    "get outlook for ",
    "sent with ",
    "von meinem ",
    "gesendet von ",
    "envoyé de mon ",
    "envoyé à partir de ",
    "envoyé depuis ",
    "enviado desde mi ",
    "enviado desde ",
    "enviado do meu ",
    "inviato da ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "wysłane z ",
    "отправлено с ",
    "skickat från min ",
    "sendt fra min ",
    "lähetetty ",
    "được gửi từ ",
)
LOOK_AHEAD = 3  # an attribution wraps over at most three lines
LONGEST_ATTRIBUTION = 400


def trim(text: str) -> str:
    """The reply's own words (see the module's docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        bare = line.strip()
        if bare.startswith(">") or rewrapped_quote(lines, index):
            index += 1
            continue
        if ends_the_reply(line, bare) or header_block(lines, index):
            break
        before = inline_attribution(bare)
        if before is not None:
            kept.append(before)
            if not quote_follows(lines, index + 1):
                break
            index += 1
            continue
        span = attribution(lines, index)
        if span:
            if quote_follows(lines, index + span):
                index += span
                continue
            break
        kept.append(line)
        index += 1
    reply = tidy(kept)
    return reply if reply else tidy(lines)


def rewrapped_quote(lines: list[str], index: int) -> bool:
    """A quoted line's end that the mail client wrapped onto a line of its own: it continues a
    long quoted line that stops mid-sentence, starts in lower case and is followed by the quote
    again. (A user's inline answer starts a sentence, so it stays.)"""
    if index == 0 or index + 1 >= len(lines):
        return False
    before, line, after = lines[index - 1].strip(), lines[index].strip(), lines[index + 1].strip()
    return (
        before.startswith(">")
        and len(before) >= 60
        and not before.endswith((".", "?", "!", ":"))
        and line[:1].islower()
        and (after.startswith(">") or not after)
    )


def tidy(lines: list[str]) -> str:
    """The lines as text, without trailing lines that hold no letter or digit."""
    end = len(lines)
    while end and not any(c.isalnum() for c in lines[end - 1]):
        end -= 1
    return "\n".join(lines[:end]).strip()


def ends_the_reply(line: str, bare: str) -> bool:
    """A signature delimiter, a separator before history, or a mobile sign-off."""
    if line.rstrip() == "--" or line == "-- ":
        return True
    if len(bare) >= 10 and set(bare) == {"_"}:  # Outlook's rule above the quoted email
        return True
    if bare.startswith("--") and bare.endswith("--") and len(bare) <= 120:
        inner = bare.strip("- ")
        return any(c.isalpha() for c in inner)  # "-----Original Message-----", Zoho's "---- On"
    return sign_off(bare)


def sign_off(bare: str) -> bool:
    """ "Sent from my iPhone", "Get Outlook for iOS<https://…>", "Sent from TypeApp <…>"."""
    words = bare
    if words.endswith(">") and "<" in words:
        words = words[: words.rindex("<")]
    lowered = words.strip().lower()
    for prefix in SIGN_OFFS:
        if lowered.startswith(prefix):
            rest = lowered[len(prefix) :].split()
            return 0 < len(rest) <= 6 and all(
                all(c.isalnum() or c in "-'’.()" for c in word) for word in rest
            )
    return False


def header_key(bare: str) -> str | None:
    """`from` for "From: …", "*From:* …" or "De : …"; None for a line of another shape."""
    stripped = bare.lstrip("*").replace("：", ":")
    if ":" not in stripped[:32]:
        return None
    key = stripped.split(":", 1)[0].strip().strip("*").strip().lower()
    return key if key in FROM_KEYS or key in OTHER_KEYS else None


def header_block(lines: list[str], index: int) -> bool:
    """An email's header block (From, then Sent/Date/To/Subject) starts at this line."""
    if header_key(lines[index].strip()) not in FROM_KEYS:
        return False
    keys = [header_key(x.strip()) for x in lines[index + 1 : index + 7]]
    return sum(1 for key in keys if key is not None and key in OTHER_KEYS) >= 2


def attribution(lines: list[str], index: int) -> int:
    """How many lines (1 to 3) the attribution line starting here spans, or 0 if none does."""
    joined = ""
    for span in range(1, LOOK_AHEAD + 1):
        if index + span > len(lines):
            return 0
        part = lines[index + span - 1].strip()
        if span == 1 and (part.startswith(">") or not opens_attribution(part)):
            return 0
        if span > 1 and not part:
            return 0
        joined = f"{joined} {part}".strip()
        if len(joined) > LONGEST_ATTRIBUTION:
            return 0
        if is_attribution(joined):
            return span
    return 0


def opens_attribution(line: str) -> bool:
    """An attribution starts with its date, or with "On" (in some language) and a name."""
    return any(c.isdigit() for c in line) or line.lower().startswith(OPENERS)


def is_attribution(joined: str) -> bool:
    """ "On Tue, 1 Mar 2011 at 18:02, Ann <ann@x.io> wrote:", "Am 13.12.2017 schrieb …:",
    "2014-10-17 11:28 GMT+03:00 Ann <ann@x.io>:", "… <ann@x.io> wrote" (no colon), "On Tue,
    Ann wrote:"."""
    text = joined.lower().replace("：", ":").rstrip()
    dated = any(c.isdigit() for c in text)
    if text.endswith(":"):
        head = text[:-1].rstrip()
        if head.endswith(WROTE):
            return dated or text.startswith(OPENERS)
        return dated and "@" in text
    return dated and "@" in text and text.endswith(WROTE)


def inline_attribution(bare: str) -> str | None:
    """For "Sure. On Tue, 1 Mar 2011, Ann <ann@x.io> wrote:", the words before "On"."""
    at = bare.find(" On ")
    if at <= 0 or bare.lower().startswith(OPENERS) or not is_attribution(bare[at + 1 :]):
        return None
    return bare[:at]


def quote_follows(lines: list[str], index: int) -> bool:
    """The next line with words (after at most a few blank ones) is quoted."""
    for line in lines[index : index + 4]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


# -- HTML ---------------------------------------------------------------------------------

# Linear: no quantifier follows another over the same characters.
LINE_BREAKS = re.compile(r"<br\b[^<>]*>|</(p|div|li|tr|h[1-6])\s*>", re.IGNORECASE)
KEPT_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "span"}
DROPPED = {"style", "script", "head", "title"}
QUOTE_CLASSES = frozenset(
    {"gmail_quote", "moz-cite-prefix", "yahoo_quoted", "OutlookMessageHeader"}
)
QUOTE_IDS = frozenset({"divRplyFwdMsg", "appendonsend", "yahoo_quoted"})
LONGEST_TAG = 4096


def html_to_text(document: str) -> str:
    """The words of an HTML email, without quoted history (blockquotes, Gmail's, Thunderbird's,
    Yahoo's and Outlook's quote blocks)."""
    # html5ever (in nh3) reads the document once into a regular form: tags in lower case, the
    # attributes looked at in double quotes, nothing else; the quote block is then found by
    # plain string search.
    regular = nh3.clean(
        document,
        tags=KEPT_TAGS,
        attributes={"*": {"class", "id", "style"}},
        clean_content_tags=DROPPED | {"blockquote"},
    )
    start = quote_start(regular)
    if start is not None:
        regular = regular[:start]
    regular = LINE_BREAKS.sub("\n", regular)
    return html.unescape(nh3.clean(regular, tags=set(), attributes={}))


def quote_start(regular: str) -> int | None:
    """Where the first quote block starts in a document as nh3 writes it: Gmail's, Thunderbird's,
    Yahoo's, and Outlook's (its reply separator, its header block's bordered div)."""
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
        if _marks_a_quote(name, regular[start:end]):
            window = max(0, found - LONGEST_TAG)
            opened = regular.rfind("<", window, found)
            if opened > regular.rfind(">", window, found):  # an attribute, not text
                return opened
        position = end + 1
    return None


def _marks_a_quote(name: str, value: str) -> bool:
    if name == "class":
        return not QUOTE_CLASSES.isdisjoint(value.split())
    if name == "id":
        return value in QUOTE_IDS
    return "border-top:solid#e1e1e1" in value.replace(" ", "").lower()
