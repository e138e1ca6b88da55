"""The new words of a reply email: quoted history, signatures and mobile sign-offs left out.

One pass over the lines, each looked at with at most a few lines of look-ahead, by plain string
tests and patterns without nested repetition (nothing that could backtrack on crafted text).

- What is quoted ("> …") is left out wherever it stands, so a reply written below the quote
  (bottom-posting) or between quoted paragraphs keeps the user's words. An attribution line
  ("On … wrote:", in many languages, possibly wrapped over three lines) goes with the quote it
  introduces.
- History that is not quoted ends the reply, when it is unmistakable: an attribution with a
  time of day and an address or a "wrote", an Outlook header block (From, Subject and one more
  header), an "Original Message" separator; so do a signature ("-- ") and a mobile sign-off
  ("Sent from my iPhone"). A weaker look-alike ("On Monday my colleague wrote:") followed by
  unquoted text is the user's own words and stays.
- If trimming would leave nothing, the whole text is kept: a user's email is never dropped.
"""

# ruff: noqa: RUF001 (letters of other alphabets and full-width colons are meant)
from __future__ import annotations

import re

# Header names of a forwarded or replied-to email's header block, lowercased, by language:
# English, German, French, Spanish, Italian, Portuguese, Dutch, Polish, Russian, Swedish,
# Norwegian, Danish, Finnish, Vietnamese, Japanese, Chinese (simplified and traditional).


def _listed(*groups: str) -> frozenset[str]:
    return frozenset(name.strip() for group in groups for name in group.split(","))


FROM_KEYS = _listed(
    "from, von, de, van, da, od, от, från, fra, lähettäjä, từ, message du",
    "差出人, 发件人, 寄件者, 寄件人",
)
SUBJECT_KEYS = _listed(
    "subject, betreff, objet, sujet, asunto, oggetto, assunto, onderwerp, temat, тема, ämne",
    "emne, aihe, chủ đề, 件名, 主题, 主旨",
)
OTHER_KEYS = SUBJECT_KEYS | _listed(
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
# Mobile and mail-app sign-offs: the line starts with one of these (lowercased), then at most
# six words (the device or app) and perhaps a link, with no full stop.
SIGN_OFFS = (
    "sent from my ",
    "get outlook for ",
    "von meinem ",
    "envoyé de mon ",
    "enviado desde mi ",
    "enviado do meu ",
    "inviato da ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "wysłane z ",
    "отправлено с ",
    "skickat från min ",
    "sendt fra min ",
)
# These say no more than "sent from": the rest must name a device or app (or be a link).
VAGUE_SIGN_OFFS = (
    "sent from ",
    "sent with ",
    "gesendet von ",
    "envoyé à partir de ",
    "envoyé depuis ",
    "enviado desde ",
    "lähetetty ",
    "được gửi từ ",
)
DEVICES = _listed(
    "iphone, ipad, android, outlook, mail, gmail, yahoo, aol, typeapp, blackberry, samsung",
    "galaxy, mobile, phone, windows, protonmail, proton, spark, huawei, xiaomi, pixel, nokia",
    "motorola, htc, sony, thunderbird, airmail, newton, bluemail, edison",
)
# Words of an "Original Message"-like separator ("-----Ursprüngliche Nachricht-----").
SEPARATOR_WORDS = (
    *("original", "forward", "ursprüngliche", "weitergeleitet", "origine", "transféré"),
    *("oprindelig", "videresendt", "mensaje", "reenviado", "messaggio", "inoltrato"),
    *("mensagem", "encaminhada", "oorspronkelijk", "doorgestuurd", "originalmeddelande"),
    *("vidarebefordrat", "opprinnelig", "alkuperäinen", "välitetty", "oryginalna"),
    *("przekazana", "исходное", "пересылаемое", "原始", "元の", "转发", "轉寄", "gốc"),
)
LOOK_AHEAD = 3  # an attribution wraps over at most three lines
MOST_EXAMINED = 200_000  # characters of unquoted lines looked at
LONGEST_ATTRIBUTION = 400
TIME_OF_DAY = re.compile(r"(?<!\d)\d{1,2}[:.h]\d{2}(?!\d)")  # 18:02, 17.50, 9h30
WEAK, STRONG = 1, 2


def trim(text: str) -> str:
    """The reply's own words (see the module's docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = examined = 0
    while index < len(lines):
        line = lines[index]
        bare = line.strip()
        if not bare:
            kept.append(line)
            index += 1
            continue
        if is_quoted(bare) or rewrapped_quote(lines, index):
            index += 1  # cheap, so a reply below a long quote is still found
            continue
        examined += len(line)
        if examined > MOST_EXAMINED:
            break  # nobody writes more into one reply: the rest is history
        if ends_the_reply(line, bare) or header_block(lines, index):
            break
        before, strength = inline_attribution(bare)
        if before is not None:
            if quote_follows(lines, index + 1):
                kept.append(before)
                index += 1
                continue
            kept.append(before if strength == STRONG else line)
            if strength == STRONG:
                break
            index += 1
            continue
        span, strength = attribution(lines, index)
        if span and quote_follows(lines, index + span):
            index += span
            continue
        if span and strength == STRONG:
            break
        kept.append(line)
        index += 1
    reply = tidy(kept)
    return reply if reply else tidy(lines)


def is_quoted(bare: str) -> bool:
    """ "> …" and ">> …" are quoted; ">= 5 users" is not."""
    return bare.startswith(">") and not bare.startswith(">=")


def rewrapped_quote(lines: list[str], index: int) -> bool:
    """A quoted line's end that the mail client wrapped onto a line of its own: it continues a
    long quoted line that stops mid-sentence, starts in lower case and the quote goes straight
    on after it. (A user's inline answer starts a sentence or stands apart, so it stays.)"""
    if index == 0 or index + 1 >= len(lines):
        return False
    before, line, after = lines[index - 1].strip(), lines[index].strip(), lines[index + 1].strip()
    return (
        is_quoted(before)
        and len(before) >= 60
        and not before.endswith((".", "?", "!", ":"))
        and line[:1].islower()
        and is_quoted(after)
    )


def tidy(lines: list[str]) -> str:
    """The lines as text, without trailing rules ("----", "====") and blank lines."""
    end = len(lines)
    while end and set(lines[end - 1].strip()) <= set("-=_*~#"):
        end -= 1
    return "\n".join(lines[:end]).strip()


def ends_the_reply(line: str, bare: str) -> bool:
    """A signature delimiter, a separator before history, or a mobile sign-off."""
    if line.rstrip() == "--" or line == "-- ":
        return True
    if len(bare) >= 20 and set(bare) == {"_"}:  # Outlook's rule above the quoted email
        return True
    if bare.startswith("--") and bare.endswith("--") and len(bare) <= 120:
        inner = bare.strip("- ").lower()
        return any(word in inner for word in SEPARATOR_WORDS) or bool(is_attribution(inner))
    return sign_off(bare)


def sign_off(bare: str) -> bool:
    """ "Sent from my iPhone", "Get Outlook for iOS<https://…>", "Sent from TypeApp <…>"."""
    words = bare
    linked = words.endswith(">") and "<" in words
    if linked:
        words = words[: words.rindex("<")]
    lowered = words.strip().lower()
    if lowered.endswith("."):
        return False  # a sentence ("Sent from our staging server.")
    for prefix in SIGN_OFFS + VAGUE_SIGN_OFFS:
        if lowered.startswith(prefix):
            rest = lowered[len(prefix) :].split()
            if not 0 < len(rest) <= 6:
                return False
            if not all(all(c.isalnum() or c in "-'’.()" for c in word) for word in rest):
                return False
            return prefix in SIGN_OFFS or linked or not DEVICES.isdisjoint(rest)
    return False


def header_key(bare: str) -> str | None:
    """`from` for "From: …", "*From:* …" or "De : …"; None for a line of another shape."""
    stripped = bare.lstrip("*").replace("：", ":")
    if ":" not in stripped[:32]:
        return None
    key = stripped.split(":", 1)[0].strip().strip("*").strip().lower()
    return key if key in FROM_KEYS or key in OTHER_KEYS else None


def header_block(lines: list[str], index: int) -> bool:
    """An email's header block starts at this line: From, then a Subject and another header
    (Sent, Date, To …) within the next six lines."""
    if header_key(lines[index].strip()) not in FROM_KEYS:
        return False
    keys = [header_key(x.strip()) for x in lines[index + 1 : index + 7]]
    found = [key for key in keys if key is not None and key in OTHER_KEYS]
    return len(found) >= 2 and any(key in SUBJECT_KEYS for key in found)


def attribution(lines: list[str], index: int) -> tuple[int, int]:
    """How many lines (1 to 3) the attribution line starting here spans and how sure it is one
    (WEAK or STRONG), or (0, 0)."""
    joined = ""
    for span in range(1, LOOK_AHEAD + 1):
        if index + span > len(lines):
            return 0, 0
        part = lines[index + span - 1].strip()
        if span == 1 and not opens_attribution(part):
            return 0, 0
        if span > 1 and not part:
            return 0, 0
        joined = f"{joined} {part}".strip()
        if len(joined) > LONGEST_ATTRIBUTION:
            return 0, 0
        strength = is_attribution(joined)
        if strength:
            return span, strength
    return 0, 0


def opens_attribution(line: str) -> bool:
    """An attribution starts with its date, or with "On" (in some language) and a name."""
    if is_quoted(line):
        return False
    return any(c.isdigit() for c in line) or line.lower().startswith(OPENERS)


def is_attribution(joined: str) -> int:
    """STRONG for "On Tue, 1 Mar 2011 at 18:02, Ann <ann@x.io> wrote:", "Am 13.12.2017 21:11
    schrieb …:", "2014-10-17 11:28 GMT+03:00 Ann <ann@x.io>:" (a time of day, and an address
    or a "wrote"), "Il giorno 8 dicembre 2016, Ann <ann@x.io> ha scritto:" (a date, an address
    and a "wrote"); WEAK for "On Tue, Ann wrote:" or "In your email of 3 May you wrote:"; 0
    for anything else ("the error for account 1234 (bob@corp.com):")."""
    text = joined.lower().replace("：", ":").rstrip()
    timed = TIME_OF_DAY.search(text) is not None
    addressed = "@" in text
    head = text[:-1].rstrip() if text.endswith(":") else text
    wrote = head.endswith(WROTE)
    dated = any(c.isdigit() for c in text)
    if text.endswith(":") and (wrote or addressed):
        if timed or (wrote and addressed and dated):
            return STRONG
        return WEAK if wrote and (dated or text.startswith(OPENERS)) else 0
    return STRONG if wrote and addressed and dated else 0


def inline_attribution(bare: str) -> tuple[str | None, int]:
    """For "Sure. On Tue, 1 Mar 2011, Ann <ann@x.io> wrote:", the words before "On" and how
    sure the rest is an attribution; (None, 0) for a line of another shape."""
    at = bare.find(" On ")
    if at <= 0 or bare.lower().startswith(OPENERS):
        return None, 0
    strength = is_attribution(bare[at + 1 :])
    return (bare[:at], strength) if strength else (None, 0)


def quote_follows(lines: list[str], index: int) -> bool:
    """The next line with words (after at most a few blank ones) is quoted."""
    for line in lines[index : index + 4]:
        if line.strip():
            return is_quoted(line.strip())
    return False
