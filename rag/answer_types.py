"""What a question asks for (a person, a place, a number of pounds, quoted words...) and where a sentence offers it.

Rules over the question's form and the sentence's surface, not a statistical tagger: spaCy's
English models are not on PyPI (Explosion publishes them on GitHub; the `en-core-web-trf`
999.9.9 on PyPI is a squatter's placeholder) and nothing may be downloaded at run time, and
the other taggers there (flair, stanza, GLiNER) fetch their models from a hub. The rules
are measured by the QA suite's per-type accuracy (`newsrag eval --suite qa`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsrag.rag.words import STOPWORDS

KINDS = ("person", "organisation", "place", "number", "date", "quote", "reason", "thing")

# --- the question's side --------------------------------------------------------------

_ROLES = (
    "man|woman|men|women|boy|girl|person|people|player|players|actor|actress|singer|star|celebrity|striker|"
    "defender|midfielder|goalkeeper|forward|winger|captain|manager|coach|boss|chairman|owner|official|officer|"
    "minister|president|politician|mp|senator|governor|mayor|judge|doctor|nurse|vet|lawyer|victim|suspect|"
    "driver|pilot|rider|jockey|trainer|golfer|boxer|fighter|footballer|cricketer|batsman|bowler|umpire|referee|"
    "teenager|mother|father|son|daughter|wife|husband|brother|sister|friend|partner|girlfriend|boyfriend|"
    "child|baby|student|teacher|author|writer|journalist|reporter|presenter|host|comedian|model|designer|"
    "chef|artist|musician|rapper|director|producer|spokesman|spokeswoman|spokesperson|founder|ceo|executive|"
    "banker|worker|employee|soldier|climber|grandmaster|survivor|witness|detective|agent|guard|priest|nun|"
    "pope|king|queen|prince|princess|leader|candidate|champion|winner|scientist|researcher|expert|professor|"
    "athlete|runner|swimmer|cyclist|skier|sprinter|tennis player|relative|neighbour|neighbor|gunman|killer|"
    "tourist|lobbyist|grandma|grandmother|grandfather|grandson|granddaughter|toddler|informant|executioner|"
    "hairdresser|stylist|buyer|bidder|head|chief|boss|commander|attacker|thief|robber|burglar|murderer|"
    "rapist|abuser|customer|passenger|patient|resident|tenant|landlord|hero|heroine|nanny|carer|bride|groom|"
    "fiance|fiancee|ex-fiance|ex-wife|ex-husband|dancer|photographer|activist|campaigner|protester|blogger"
)
_ORGS = (
    "club|team|side|company|firm|business|organisation|organization|group|party|newspaper|paper|magazine|"
    "website|network|channel|broadcaster|station|bank|university|school|college|academy|agency|charity|union|"
    "league|airline|brand|band|retailer|chain|supermarket|store|shop|restaurant|hotel|department|ministry|"
    "court|council|government|authority|regulator|body|force|army|navy|police force|service|studio|label|"
    "publisher|manufacturer|carmaker|insurer|operator|franchise|federation|association|committee|auction house|"
    "gym|clinic|salon|charity|orchestra|choir|gang|cartel|militia|faction|outlet|house"
)
_PLACES = (
    "city|town|village|country|nation|state|county|province|region|area|island|street|road|neighbourhood|"
    "neighborhood|district|suburb|hospital|prison|jail|stadium|ground|venue|resort|beach|airport|station|"
    "zoo|park|mission|school|hotel|restaurant|house|home|building|river|lake|mountain|continent|capital|"
    "port|base|camp|course|track|circuit|arena|church|court|shelter|farm|location|place|spot|site|nightclub|"
    "club|bar|pub|cafe|bus station|station|theatre|cinema|museum|gallery|venue|bridge|square|office"
)
_MONEY_VERBS = (
    r"cost|costs|pay|paid|pays|worth|spend|spent|earn|earns|earned|raise|raised|fine|fined|price|sell|sold|"
    r"bill|charge|charged|owe|owes|fund|donat\w*|salary|wage|budget|compensation|damages|bid|fee|reward|"
    r"prize|loan|debt|award|awarded|win|won|sue|sued|claim"
)

_QUOTE = re.compile(
    r"^\s*(what|how) (did|does|do|has|had) .{1,80}?\b(say|said|call|called|tell|told|describe|described|"
    r"write|wrote|tweet|tweeted|post|posted|claim|claimed|warn|warned|reply|replied|admit|admitted|joke|joked|"
    r"insist|insisted|add|added|describe|refer to|label|labelled|labeled|brand|branded|dub|dubbed|promise|vow|"
    r"urge|urged|ask|asked|announce|announced|whisper|whispered|shout|shouted|scream|screamed|text|texted|"
    r"reply|respond|responded|sing|sang|chant|chanted)\b"
    r"|^\s*what (words|phrase)\b|\bin (his|her|their) (own )?words\b",
    re.I,
)
_REASON = re.compile(
    r"^\s*(why|how come)\b|\b(what|which) (was|is|were|are) the ([\w-]+ )?(reason|cause|motive)\b|\bfor what reason\b"
    r"|^\s*what (caused|prompted|led to|made)\b",
    re.I,
)
_DATE = re.compile(
    r"^\s*when\b|\b(what|which) (year|day|date|month|time|season|decade|century)\b"
    r"|\bhow long ago\b|\bsince when\b",
    re.I,
)
_NUMBER = re.compile(
    r"\bhow (many|much|old|long|far|tall|big|heavy|often|fast|high|deep|large|wide|late|early)\b"
    r"|\b(what|which) (percentage|proportion|share|age|number|amount|score|scoreline|sum|price|fee|fine|salary|"
    r"speed|distance|temperature|margin|figure|total|rate|weight|height|length|size|value|odds|ranking|rank|"
    r"position|place|sentence)\b|\bby what (score|margin|distance|amount)\b",
    re.I,
)
_PERSON = re.compile(
    rf"^\s*(who|whom|whose)\b|\b(which|what) ([\w'-]+ ){{0,2}}({_ROLES})\b|\bname of (the|this|that|his|her|their|a) "
    rf"([\w'-]+ ){{0,3}}?({_ROLES})\b|\bwho (is|was|were|are|did|has|had)\b",
    re.I,
)
_ORGANISATION = re.compile(
    rf"\b(which|what) (\w+ ){{0,2}}({_ORGS})\b|\bname of (the|this|that|his|her|their) ({_ORGS})\b", re.I
)
_PLACE = re.compile(
    rf"^\s*where\b|\b(which|what) (\w+ ){{0,2}}({_PLACES})\b|\b(in|at|from|to|near|into) (which|what)\b", re.I
)
_HEAD = re.compile(rf"\b(?:which|what)\s+(?:\w+\s+){{0,2}}?({_PLACES}|{_ORGS})\b", re.I)
_NAME_OF = re.compile(
    r"\bname of (?:the |this |that |his |her |their |its |a |an )?((?:[\w'\u2019-]+ ?){1,5})", re.I
)
_NAME = re.compile(
    r"\b(what|which) (is|was|were|are) (the )?names?\b|\bname of\b|\bwhat names?\b"
    r"|\bwhat\b.*\b(called|named|codenamed|nicknamed|dubbed|titled)\b",
    re.I,
)


@dataclass(frozen=True)
class Asked:
    """The kind of item a question wants; `unit` narrows a number (money, age, duration...). A `head`
    such as "resort" or "bus station" is what a sentence holding the answer calls it too."""

    kind: str
    unit: str | None = None
    head: str | None = None  # the specific noun it names a place or organisation by ("which *resort*")


def number_unit(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\bhow old\b|\bwhat age\b|\bage\b", q):
        return "age"
    if re.search(r"\b(score|scoreline|margin)\b", q):
        return "score"
    if re.search(r"\b(percentage|per cent|percent|proportion|share)\b", q):
        return "percent"
    if re.search(r"\bhow many (years|months|weeks|days|hours|minutes)\b", q):
        return "duration"
    if re.search(r"\bhow much\b", q) and re.search(rf"\b({_MONEY_VERBS}|costing)\b|\bmoney\b|£|\$", q):
        return "money"
    if re.search(r"\b(price|fee|fine|salary|sum|amount|value)\b", q) and not re.search(r"\bhow many\b", q):
        return "money"
    if re.search(r"\bhow long\b", q) and not re.search(
        r"\bhow long (is|was) (the|it|its|his|her) (\w+ )?(bridge|track|course|road|river|tunnel|wall|queue|line)\b",
        q,
    ):
        return "duration"
    if re.search(r"\bhow heavy\b|\bweight\b", q):  # "how big" asks a size, a sum or a share as often
        return "weight"
    if re.search(r"\bhow (far|tall|high|deep|wide)\b|\b(distance|height|length)\b", q):
        return "length"
    if re.search(r"\bhow fast\b|\bspeed\b", q):
        return "speed"
    if re.search(r"\bhow often\b", q):
        return "frequency"
    return None


# Heads too general for a sentence to repeat them ("Bydgoszcz" answers "which city" without saying "city").
_GENERAL_HEADS = frozenset(
    """city town village country nation state county province region area place location spot site venue team side
    club company firm business organisation organization group party body authority government""".split()
)


def _last_content_word(words: str) -> str | None:
    """'federal immigration crackdown in Minneapolis' -> 'crackdown': the noun before the first function word."""
    content: list[str] = []
    for word in words.split():
        if word.lower() in STOPWORDS or (content and word[:1].isupper() and not content[-1][:1].isupper()):
            break  # 'the horse Mike Tindall co-owns': the noun ends where a name begins
        content.append(word)
    return _POSSESSIVE.sub("", content[-1]) if content else None


def _specific(head: str | None) -> str | None:
    return head.lower() if head and head.lower() not in _GENERAL_HEADS else None


def asked_for(question: str) -> Asked | None:
    """The asked-for kind when the question's form says it; None for open questions ("What happened...")."""
    if _QUOTE.search(question):
        return Asked("quote")
    if _REASON.search(question):
        return Asked("reason")
    if _DATE.search(question):
        return Asked("date")
    if _NUMBER.search(question):
        return Asked("number", number_unit(question))
    if re.match(r"^\s*where\b", question, re.I):
        return Asked("place")
    if _PERSON.search(question):
        return Asked("person")
    head = _HEAD.search(question)
    if _ORGANISATION.search(question):
        return Asked("organisation", head=_specific(head.group(1) if head else None))
    if _PLACE.search(question):
        return Asked("place", head=_specific(head.group(1) if head else None))
    if found := _NAME_OF.search(question):
        return Asked("thing", head=_specific(_last_content_word(found.group(1))))
    if _NAME.search(question):
        return Asked("thing")
    return None


# --- the sentence's side --------------------------------------------------------------

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORD = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|"
    r"thousand|thousands|million|millions|billion|billions|dozen|dozens|half|a couple"
)
_QUANTITY = rf"(?:\d[\d,.]*\d|\d|\b(?:{_NUMBER_WORD})\b)"
_ITEM_PATTERNS = {
    "money": re.compile(
        rf"[£$€]\s?\d[\d,.]*\s?(?:m|bn|k|million|billion|thousand)?|\b{_QUANTITY}[\s-]?(?:million|billion|m|bn|k)?"
        rf"\s?(?:pounds|dollars|euros|pence|cents|quid|rupees|yuan|yen|francs|usd|gbp)\b",
        re.I,
    ),
    "age": re.compile(
        rf"\b{_QUANTITY}[\s-]?(?:years?|months?)[\s-]old\b|\baged\s+{_QUANTITY}|,\s*\d{{1,3}}\s*,"
        rf"|\bage of {_QUANTITY}|\(\d{{1,3}}\)|\b{_QUANTITY}-year-old\b|\bin (?:his|her) (?:\w+ies|\d0s)\b"
        rf"|\b(?:was|is|were|are|turned|turns|died at|aged)\s+(?:just\s+|only\s+)?\d{{1,3}}\b(?![,.]?\d)(?!\s*(?:%|per|years? ago|am|pm))",
        re.I,
    ),
    "score": re.compile(r"\b\d{1,3}\s?[-–]\s?\d{1,3}\b|\b\d+-\d+\b"),
    "percent": re.compile(rf"{_QUANTITY}\s?(?:%|per ?cent\b|percent\b)", re.I),
    "duration": re.compile(
        rf"\b{_QUANTITY}(?:\s(?:and|or|to)\s{_QUANTITY})?[\s-]+(?:years?|months?|weeks?|days?|hours?|minutes?|"
        rf"seconds?|decades?|nights?|seasons?)\b|\b(?:a|an)\s(?:year|month|week|day|hour|decade|fortnight)\b"
        rf"|\blife\b|\bindefinite\w*",
        re.I,
    ),
    "weight": re.compile(
        rf"{_QUANTITY}\s?(?:-|\s)?(?:kg|kilos?|kilograms?|lbs?|pounds|stone|st|tons?|tonnes?|grams?|g|ounces?|oz)\b",
        re.I,
    ),
    "length": re.compile(
        rf"{_QUANTITY}\s?(?:-|\s)?(?:ft|feet|foot|inch(?:es)?|in|metres?|meters?|m|km|kilometres?|kilometers?|"
        rf"miles?|yards?|cm|centimetres?|mm)\b|\d+ft|\d+in\b|\d'\d",
        re.I,
    ),
    "speed": re.compile(rf"{_QUANTITY}\s?(?:mph|km/h|kph|knots|miles an hour|miles per hour)\b", re.I),
}
_ANY_NUMBER = re.compile(rf"{_QUANTITY}", re.I)
_DATE_ITEM = re.compile(
    rf"\b(?:1[89]\d\d|20\d\d)\b|\b(?:{MONTHS})\b|\b(?:{_WEEKDAYS})\b|\b(?:yesterday|today|tonight|tomorrow|"
    rf"last (?:week|month|year|night|season|summer|winter|spring|autumn)|next (?:week|month|year)|"
    rf"this (?:week|month|year|season)|{_QUANTITY} (?:years?|months?|weeks?|days?) (?:ago|earlier|later|before|after))\b"
    rf"|\b(?:in|since|until|by|from) the (?:\d0s|(?:early|late|mid)[ -]\d0s)\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s(?:{MONTHS})\b",
    re.I,
)
_QUOTED = re.compile(r"[\"“‘']([^\"”’]{3,}?)[\"”’](?!\w)|[\"“]([^\"”]{3,})$")
_REASON_CUE = re.compile(
    r"\b(because|due to|owing to|as a result|after|since|so that|in order to|to avoid|reason|caused|blamed|"
    r"amid|following|for (?:his|her|their) role|over (?:his|her|their|the)|accused of|for allegedly|led to|"
    r"why|thanks to|as (?:he|she|they|it) (?:was|were|had)|suffering from|with (?:a|an) \w+ injury|injury|"
    r"ill|illness|sick|unable|commitments?|so\b)",
    re.I,
)
# A run of capitalised words, with inner connectives ('Bank of England', 'Sacred Heart Missionary').
_PROPER = re.compile(
    r"(?:[A-Z][\w'\u2019&.-]*|[A-Z]{2,})(?:\s+(?:of|the|de|da|van|von|al|el|bin|la|le|du|der)?\s*"
    r"(?:[A-Z][\w'\u2019&.-]*))*"
)
_ORG_WORDS = frozenset(
    """fc united city club council party university college school bank inc ltd plc corp company group association
    police department ministry agency times news post mail network airlines airways foundation trust office
    service commission committee federation league union institute society board bureau court army navy force house
    nhs bbc cnn fbi cia nasa uefa fifa itv sky espn reuters un nato eu isis hospital guardian telegraph express
    sun mirror journal tribune herald channel records studios entertainment motors academy church""".split()
)
_PLACE_WORDS = frozenset(
    """street road avenue lane county city island islands mountain mountains river lake park airport stadium hospital
    prison beach bay valley state province district village town square bridge hill hills coast sea ocean desert
    forest mission zoo centre center hotel resort arena circuit gardens station""".split()
)
_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|from|near|to|into|across|outside|inside|towards|around|of|off)\s+(?:the\s+)?$", re.I
)
_PERSON_BEFORE = re.compile(
    r"\b(?:mr|mrs|ms|miss|dr|sir|lord|lady|dame|rev|prof|president|senator|governor|mayor|judge|coach|captain|"
    r"officer|sgt|det|chancellor|minister|prince|princess|king|queen|pope|saint|st|manager|boss|striker|"
    r"defender|midfielder|goalkeeper|star|actor|actress|singer|team-mate|teammate|rival|wife|husband|son|"
    r"daughter|brother|sister|mother|father|partner|girlfriend|boyfriend|friend|spokesman|spokeswoman|"
    r"said|says|by|named|called|dubbed|vet|nurse|doctor)\.?\s+$",
    re.I,
)
_PERSON_AFTER = re.compile(
    r"^(?:,\s*\d{1,3}\s*,|\s*\(\d{1,3}\)|\s+(?:said|says|told|added|insisted|explained|admitted|wrote|tweeted|claimed)\b|'s?\s)"
)


def _proper_runs(sentence: str, common: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """Capitalised runs with offsets. A word opening the sentence, a caption ("Injured: ...") or a quote
    counts only when it is not a common word (a stopword, an opener, or a word `common` holds in lower case)."""
    runs = []
    for match in _PROPER.finditer(sentence):
        text, start = match.group(0).rstrip(".'\u2019-"), match.start()
        text = _POSSESSIVE.sub(
            "", text.split("'s ")[-1].split("\u2019s ")[-1]
        )  # "Newcastle's Shearer": Shearer
        start = (
            match.end() - len(match.group(0)) + match.group(0).find(text) if text in match.group(0) else start
        )
        words = text.split()
        opening = start == 0 or sentence[:start].rstrip().endswith(
            (".", "!", "?", ":", '"', "“", "‘", "'", "(", "-", "–")
        )
        if opening:
            while words and (words[0].lower() in STOPWORDS | _OPENERS or _strip(words[0]).lower() in common):
                start += len(words[0]) + 1
                words = words[1:]
        words = [w for w in words if not _CONTRACTION.search(w)] if len(words) == 1 else words
        if not words or all(w.lower() in STOPWORDS or w.lower() in _CALENDAR for w in words):
            continue
        if sentence[match.end() : match.end() + 1] == ":" and len(words) == 1:
            continue  # a caption label: 'Injured:', 'Scene:'
        if len(words) == 1 and (_DEMONYM.search(words[0]) or _LOWER_COMPOUND.search(words[0])):
            continue  # 'Syrian', 'Somali-American', 'Star-crossed': adjectives, not names
        runs.append((" ".join(words), start, start + len(" ".join(words))))
    return runs


_DEMONYM = re.compile(r"(?:ian|ean|ese|ish|ic|i)(?:-\w+)?$|-American$|-born$")
_LOWER_COMPOUND = re.compile(r"-[a-z]")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_CONTRACTION = re.compile(r"['\u2019](?:d|ve|ll|m|re|t)$", re.I)


_PUNCTUATION = ".,:;'\u2019\"“”‘()"


def _strip(word: str) -> str:
    return word.strip(_PUNCTUATION)


def bare_word(word: str) -> str:
    """A word as `named_in`'s names hold it: lower case, without punctuation or a possessive ("Jones's?": jones)."""
    return _POSSESSIVE.sub("", word.lower().strip(_PUNCTUATION + "!?"))


_CALENDAR = frozenset(f"{MONTHS}|{_WEEKDAYS}".split("|"))
_OPENERS = frozenset(
    """but and so yet however meanwhile now then today yesterday last next earlier later also still despite
    although though while after before when if as in on at for with from by to of during since until under
    over about against among between police officials authorities reports sources witnesses experts critics
    fans many some several most one two three four five six seven eight nine ten one both each every all
    his her their its our my your speaking asked writing according""".split()
)


def _entity_kind(sentence: str, text: str, start: int, end: int) -> str:
    """Person, organisation or place for a capitalised run, from its words and what surrounds it."""
    words = {w.lower().strip(".,'\u2019") for w in text.split()}
    if words & _ORG_WORDS or (text.isupper() and len(text) <= 6):
        return "organisation"
    if words & _PLACE_WORDS:
        return "place"
    before, after = sentence[max(0, start - 40) : start], sentence[end : end + 30]
    if _PERSON_BEFORE.search(before) or _PERSON_AFTER.search(after):
        return "person"
    if _PLACE_BEFORE.search(before):
        return "place"
    return "person" if len(text.split()) >= 2 else "name"


def asked_words(question: str) -> set[str]:
    """The question's words, lower-case, as offered_items compares an item's words with them; a possessive
    counts as its name too ("Karo's" says "karo")."""
    words = {w.lower().strip(".,?!'\u2019\"") for w in re.findall(r"[\w'\u2019,.-]+", question)}
    return words | {_POSSESSIVE.sub("", w) for w in words}


def offered_items(
    asked: Asked, sentence: str, question_words: set[str], common: frozenset[str] = frozenset()
) -> list[str]:
    """Items of the asked-for kind in the sentence that the question (and its conversation) does not say;
    `common` is the corpus's lower-case vocabulary (TermWeights.common_words)."""
    kind = asked.kind

    def new(item: str) -> bool:
        words = {w.lower().strip(".,'\u2019\"“”‘") for w in item.split()}
        return bool(words - question_words - STOPWORDS)

    if kind == "number":
        # With a unit asked for ("how much ... cost"), only a quantity in that unit answers; with none, an
        # age ("the 31-year-old") does not answer "how many pupils".
        pattern = _ITEM_PATTERNS.get(asked.unit or "", _ANY_NUMBER)
        return [
            m.group(0)
            for m in pattern.finditer(sentence)
            if new(m.group(0)) and not (pattern is _ANY_NUMBER and _AGE_AFTER.match(sentence, m.end()))
        ]
    if kind == "date":
        return [m.group(0) for m in _DATE_ITEM.finditer(sentence) if m.group(0).lower() not in question_words]
    if kind == "quote":
        return [q for q in (m.group(1) or m.group(2) for m in _QUOTED.finditer(sentence)) if q and new(q)]
    if kind == "reason":
        return [m.group(0) for m in _REASON_CUE.finditer(sentence)]
    items = []
    for text, start, end in _proper_runs(sentence, common):
        if not new(text):
            continue
        found_kind = _entity_kind(sentence, text, start, end)
        # A lone capitalised word with nothing marking it as a person ('Defence') does not answer "who".
        if kind == "thing" or found_kind == kind or (found_kind == "name" and kind != "person"):
            items.append(text)
    return items


_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b")


_AGE_AFTER = re.compile(r"[\s-]?(?:years?|months?|weeks?)[\s-]old\b", re.I)
# A sentence that says the asked-for item is not given: "an unnamed buyer", "declined to be named".
WITHHELD = re.compile(
    r"\b(?:unnamed|unidentified|undisclosed|anonymous|unclear|not known"
    r"|(?:declined|refused|did not want|asked not) to be (?:named|identified)"
    r"|(?:declined|refused|would not|wouldn't|did not|didn't|could not|couldn't) (?:to )?"
    r"(?:say|name|reveal|disclose|identify|confirm)"
    r"|(?:has|have|had|was|were|is|are) (?:not|yet to be) (?:yet )?(?:been )?(?:named|identified|released|disclosed|"
    r"revealed|made public)"
    r"|(?:it is|it's|it was|it remains) not (?:clear|known))\b",
    re.I,
)


def named_in(text: str, with_years: bool = False, common: frozenset[str] = frozenset()) -> list[str]:
    """The names a text gives (capitalised runs past its opening word), and its years when asked."""
    names = [run for run, _, _ in _proper_runs(text, common)]
    if with_years:
        names += _YEAR.findall(text)
    return list(dict.fromkeys(names))
