"""Value parsers: ages, lengths of time, dates, doses, radiotherapy, lymph node counts, stages, results."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..mapping.staging import parse_stage

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
_TENS = r"(?:twenty|thirty|forty|fifty|sixty)[- ](?:one|two|three|four|five|six|seven|eight|nine)"
_NUMBER = rf"(\d+(?:\.\d+)?|{_TENS}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty)"
NUMBER = _NUMBER  # a number in digits or words, as one group
_AGE = re.compile(
    r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b|\baged (\d{1,3})\b|\bage of (\d{1,3})\b"
    r"|\b(?:woman|man|lady|female|male|patient|girl|boy) of (\d{1,3})\b(?! ?(?:%|cm|mm|kg|years? (?:earlier|before|later)))"
    # 'She was 38.', 'The patient was 30 and had not reached the menopause', 'the woman was 66 when she was admitted'
    r"|\b(?:she|he|patient|woman|man|lady|gentleman) (?:was|is) (\d{2,3})\b(?=\s*(?:[,;]|\.(?!\d)|$|and\b|when\b|at\b))"
    r"|\bdiagnosed at (\d{1,3})\b(?! ?(?:%|cm|mm|weeks|months))|\b(\d{1,3}) years? old\b"
    # a structured header: 'Patient: female, 58'
    r"|\b(?:female|male|woman|man),\s*(\d{1,3})\s*(?=$|\n|[,;.](?!\d))",
    re.I,
)
_INTERVAL = re.compile(rf"\b{_NUMBER}[- ](year|month|week|day)s?\b", re.I)
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
# '11 April 2006', 'April 11, 2006', '11 Apr. 2006', 'August 2015', 'September of 2022', '2019', '2006-04-11'.
_DATE = re.compile(
    rf"\b(?:(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?=(?:{_MONTH})\b))?"
    rf"(?:(?P<month>{_MONTH})\.?(?:\s+(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?,?)?(?:\s+of)?\s+)?(?P<year>(?:19|20)\d\d)\b"
    rf"(?:-(?P<m3>[01]\d)-(?P<d3>[0-3]\d)\b)?",
    re.I,
)
# 'between 2017 and 2022', 'from 2004 until August 2011': the years of a span (a month told with either is left out)
_BETWEEN = re.compile(
    rf"\b(?:between|from)\s+(?:(?:{_MONTH})\.?\s+)?((?:19|20)\d\d)\s+(?:and|to|until|till)\s+(?:(?:{_MONTH})\.?\s+)?"
    r"((?:19|20)\d\d)\b",
    re.I,
)
_RT_DOSE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:Gy|Gray|grays?)\b", re.I)
_FRACTIONS = re.compile(rf"\b{_NUMBER}\s+fractions?\b", re.I)
_CYCLES = re.compile(rf"\b{_NUMBER}\s+(?:more\s+|further\s+|additional\s+|more\s+)?cycles?\b", re.I)
_PER_FRACTION = re.compile(r"\bin\s+(\d+(?:\.\d+)?)\s*(?:Gy|Gray)\s+fractions\b", re.I)
_DOSE = re.compile(r"\b(\d+(?:\.\d+)?\s*(?:mg/m2|mg/m²|mg/kg|mg|mcg|µg|g))\b", re.I)
_FREQUENCY = re.compile(
    r"\b((?:once|twice|three times|four times) (?:a day|daily|weekly|a week|a month)|daily|weekly|monthly"
    r"|(?<=mg )a day|(?<=g )a day|per day|every other day"
    r"|every (?:\d+|two|three|four|six) (?:days|weeks|months)|every (?:day|week|month))\b",
    re.I,
)
_FREQUENCY_NUMBERS = {"two": "2", "three": "3", "four": "4", "six": "6"}
_ROUTE = re.compile(
    r"\b(oral(?:ly)?|intravenous(?:ly)?|subcutaneous(?:ly)?|intramuscular(?:ly)?|intrathecal(?:ly)?|topical(?:ly)?|"
    r"intra(?:pericardial|pleural|peritoneal|vesical|arterial)(?:ly)?|by\s+mouth|per\s+os|"
    r"by\s+(?:intravenous\s+)?infusion|by\s+injection\s+under\s+the\s+skin|"
    # the route told by where the drug was put: 'instilled into the pericardial sac', 'injected into the bladder'
    r"(?:instilled|injected|infused|introduced|delivered|placed)\s+(?:directly\s+)?into\s+(?:the\s+|her\s+|his\s+)?"
    r"(?:pericardi(?:al\s+(?:sac|cavity|space)|um)|pleural\s+(?:cavity|space)|peritone(?:al\s+cavity|um)|"
    r"(?:urinary\s+)?bladder|cerebrospinal\s+fluid|CSF|spinal\s+canal))\b",
    re.I,
)
# where a drug was put, as the route it names
_ROUTE_INTO = (
    ("pericardi", "intrapericardial"),
    ("pleural", "intrapleural"),
    ("peritone", "intraperitoneal"),
    ("bladder", "intravesical"),
    ("cerebrospinal", "intrathecal"),
    ("csf", "intrathecal"),
    ("spinal canal", "intrathecal"),
)
# the route a phrase names: 'by mouth' is oral
_ROUTE_PHRASES = {"by mouth": "oral", "per os": "oral", "by infusion": "intravenous",
                  "by intravenous infusion": "intravenous", "by injection under the skin": "subcutaneous"}  # fmt: skip
_NODES = re.compile(
    r"\b(\d{1,3}|none|no|one|two|three|four|five|six|seven|eight|nine|ten)\s*(?:out of|of|/)\s*(?:the\s+)?(\d{1,3})\s+"
    r"(?:dissected\s+|examined\s+|removed\s+|axillary\s+|resected\s+|harvested\s+|retrieved\s+)*"
    r"(?:lymph\s+)?nodes?\b|\b(?:all\s+)?(\d{1,3})\s+(?:dissected\s+)?(?:axillary\s+)?lymph nodes?\s*\((\d{1,3})/(\d{1,3})\)",
    re.I,
)
_STAGE_GROUP = re.compile(r"\bstage[- ](0|IV|I{1,3}|[1-4])([A-C])?\b", re.I)
_TNM_TEXT = re.compile(
    r"(?<![A-Za-z])(?:yp|yc|c|p)?T(?:is|[Xx]|[0-4])[a-d]?(?:\s*(?:yp|yc|c|p)?N(?:[Xx]|[0-3])[a-c]?)?(?:\s*(?:yp|yc|c|p)?M[01Xx])?"
    r"(?![a-z])"  # 'Tissue from the fracture' is a word, not the category Tis
)
_GERMLINE = re.compile(
    r"\b(BRCA1|BRCA2|PALB2|TP53|CHEK2|ATM)[- ](positive|negative|mutation(?:[- ]positive)?|mutated|carrier|"
    r"pathogenic variant)\b",
    re.I,
)
# 'BRCA1/2 testing found no mutation', 'testing for BRCA1 and BRCA2 was negative'.
_GERMLINE_TEST = re.compile(
    r"\b(BRCA1/2|BRCA1 and BRCA2|BRCA1 and 2|BRCA)\b(?:\s+(?:genes?|mutations?))?\s+(?:testing|tests?|analysis|screening)"
    r"\s+(?:was|were|found|showed|revealed|came back)\s+(negative|no (?:pathogenic )?(?:mutations?|variants?)|normal)",
    re.I,
)
_MENOPAUSE = re.compile(r"\b(pre|peri|post)-?menopausal\b", re.I)
# 'a woman past the menopause', 'after her menopause', 'before the menopause' (not 'at the menopause')
# and 'had gone through the menopause', 'had not yet reached the menopause'
_OF_MENOPAUSE = re.compile(
    r"\b(past|after|beyond|before|not yet past|not yet through|(?:had\s+)?not\s+(?:yet\s+)?(?:reached|gone\s+through)"
    r"|(?:had\s+)?(?:reached|gone\s+through|been\s+through|passed))\s+(?:the|her)\s+menopause\b",
    re.I,
)
_ECOG = re.compile(r"\bECOG(?: performance status)?(?: score)?(?: of)?\s*(?:was\s*)?([0-5])\b", re.I)


_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60,
}  # fmt: skip


def number(word: str) -> float:
    """A number written in digits or in words ('24', 'twenty-four')."""
    key = word.lower()
    if key in _WORDS:
        return float(_WORDS[key])
    parts = re.split(r"[- ]", key)
    if len(parts) == 2 and parts[0] in _WORDS and parts[1] in _WORDS:
        return float(_WORDS[parts[0]] + _WORDS[parts[1]])
    return float(word)


def _g(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Found:
    """A value found in a sentence, with its offsets in that sentence's text."""

    value: object
    start: int
    end: int


def ages(text: str) -> list[Found]:
    """Ages in years: '45-year-old', 'aged 45', 'at the age of 45'."""
    out = []
    for m in _AGE.finditer(text):
        value = next(g for g in m.groups() if g)
        if 0 < int(value) <= 130:
            out.append(Found(float(value), m.start(), m.end()))
    return out


# 'a mastectomy for breast cancer at 36.', 'At 46 she had a hysterectomy', 'At 50, a scan showed ...', 'At 61 the
# woman was found to have ...': an age
# said bare, with 'at', for the event of its own sentence.
_AT_AGE = re.compile(
    r"\b[Aa]t (?:the age of |age )?(\d{2})\b(?=\s*[,.;]|\s+(?:she|he|(?:the|our|this)\s+(?:patient|woman|man|lady|gentleman))\b)"
)


def event_ages(text: str) -> list[Found]:
    """Ages said with 'at' for one event: 'had a mastectomy at 36.', 'At 50, a scan showed', '... at the age of 66.'."""
    return [
        Found(float(m.group(1)), m.start(), m.end()) for m in _AT_AGE.finditer(text) if int(m.group(1)) >= 15
    ]


def intervals(text: str) -> list[Found]:
    """Lengths of time as the case format writes them: '2 years', '38 months'."""
    out = []
    for m in _INTERVAL.finditer(text):
        n = number(m.group(1))
        out.append(Found(f"{_g(n)} {m.group(2).lower()}{'s' if n != 1 else ''}", m.start(), m.end()))
    return out


def dates(text: str) -> list[Found]:
    """Dates as precise as the text: 'August 2015' -> 2015-08, 'in 2019' -> 2019."""
    out = []
    for m in _DATE.finditer(text):
        year = m.group("year")
        month = m.group("month")
        day = m.group("day") or m.group("day2")
        if m.group("m3"):
            month_n, day = int(m.group("m3")), m.group("d3")
        else:
            month_n = next((n for name, n in MONTHS.items() if month and name.startswith(month.lower())), 0)
        value = f"{year}-{month_n:02d}" if month_n else year
        if month_n and day and 1 <= int(day) <= 31:
            value = f"{value}-{int(day):02d}"
        out.append(Found(value, m.start(), m.end()))
    return out


# the words before a date that make it the end of a span: 'took it until 2009', 'stable up to the end of 2016', 'a
# course that ended in May 2019', 'was completed in 2012'
_UNTIL = re.compile(
    r"\b(?:until|till|up\s+to|through|to\s+the\s+end\s+of|(?:ended|finished|completed|stopped)\s+(?:in|on))\s+(?:(?:the\s+)?(?:end|middle|close|spring|summer|"
    r"autumn|fall|winter)\s+of\s+|early\s+|mid-?|late\s+)?$",
    re.I,
)


def ends_span(text: str, start: int) -> bool:
    """Whether the date found at `start` of `text` ends a span ('until 2009') rather than tells when it began."""
    return bool(_UNTIL.search(text[max(0, start - 40) : start]))


def between(text: str) -> Found | None:
    """A range of years: 'between 2017 and 2022'."""
    m = _BETWEEN.search(text)
    return Found([m.group(1), m.group(2)], m.start(), m.end()) if m else None


def radiotherapy_dose(text: str) -> tuple[Found | None, Found | None]:
    """Dose in Gy and number of fractions: '25 Gray (Gy) in five fractions'."""
    dose = _RT_DOSE.search(text)
    frac = _FRACTIONS.search(text)
    per = _PER_FRACTION.search(text)
    if frac is None and dose is not None and per is not None and per.start() > dose.start():
        n = float(dose.group(1)) / float(per.group(1))  # '25 Gy in 5 Gy fractions' is five fractions
        if n.is_integer() and 1 <= n <= 100:
            return Found(float(dose.group(1)), dose.start(), dose.end()), Found(
                int(n), per.start(), per.end()
            )
    return (
        Found(float(dose.group(1)), dose.start(), dose.end()) if dose else None,
        Found(int(number(frac.group(1))), frac.start(), frac.end()) if frac else None,
    )


def cycles(text: str) -> Found | None:
    """Number of cycles: 'six cycles of'."""
    m = _CYCLES.search(text)
    return Found(int(number(m.group(1))), m.start(), m.end()) if m else None


def dose(text: str) -> Found | None:
    """A drug dose as written: '500 mg', '100 mg/m2'."""
    m = _DOSE.search(text)
    return Found(m.group(1), m.start(), m.end()) if m else None


def frequency(text: str) -> Found | None:
    """How often: 'twice daily', 'every 3 weeks' (also 'every three weeks'), 'a day' as daily."""
    m = _FREQUENCY.search(text)
    if not m:
        return None
    value = m.group(1).lower()
    value = {"a day": "daily", "per day": "daily", "a week": "weekly", "a month": "monthly"}.get(value, value)
    value = re.sub(r"\b(two|three|four|six)\b", lambda w: _FREQUENCY_NUMBERS[w.group(1)], value)
    return Found(value, m.start(), m.end())


def route(text: str) -> Found | None:
    """Route: oral, intravenous, subcutaneous, intramuscular, intrathecal, topical (the routes the maps name), and
    into a body cavity (intrapericardial, intrapleural, intraperitoneal, intravesical), which stay text."""
    m = _ROUTE.search(text)
    if not m:
        return None
    word = re.sub(r"\s+", " ", m.group(1).lower())
    word = _ROUTE_PHRASES.get(word, word)
    if " into " in word:
        word = next(route for place, route in _ROUTE_INTO if place in word)
    return Found(word[:-2] if word.endswith("ly") else word, m.start(), m.end())


def nodes(text: str) -> Found | None:
    """Lymph nodes (positive, examined): '4 out of 17 lymph nodes', '13 lymph nodes (13/13)'."""
    m = _NODES.search(text)
    if not m:
        return None
    if m.group(1):
        count = m.group(1).lower()
        positive = 0 if count in ("none", "no") else int(number(count))
        examined = int(m.group(2))
    else:
        positive, examined = int(m.group(4)), int(m.group(5))
    if positive > examined:
        return None
    return Found((positive, examined), m.start(), m.end())


# 'with carcinoma in three of the lymph nodes', 'metastases in 2 of the axillary nodes': positives, no total
_POSITIVE_NODES = re.compile(
    r"\b(?:carcinoma|cancer|metastas[ie]s|tumou?r(?:\s+cells)?|deposits?)\s+in\s+"
    r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+of\s+(?:the|her|his)\s+"
    r"(?:axillary\s+)?(?:lymph\s+)?nodes\b(?!\s+(?:examined|removed|dissected|resected))",
    re.I,
)


# 'the lymph nodes were free of tumour', 'all the axillary nodes were negative': none positive, none counted
_NO_NODE_POSITIVE = re.compile(
    r"\b(?:(?:all|none\s+of)\s+(?:the\s+)?|the\s+|her\s+|his\s+)(?:axillary\s+|regional\s+|sentinel\s+)?(?:lymph\s+)?"
    r"nodes\s+(?:were|was)\s+(?:all\s+)?(?:free\s+of\s+(?:tumou?r|cancer|carcinoma|metastas[ie]s|disease)|"
    r"(?:tumou?r|cancer|metastasis)[- ]free|negative|uninvolved|not\s+involved|clear)\b",
    re.I,
)


def positive_nodes(text: str) -> Found | None:
    """Positive lymph nodes told without how many were examined: 'carcinoma in three of the lymph nodes'; none
    when the nodes are said to be free of tumour."""
    m = _POSITIVE_NODES.search(text)
    if m:
        return Found(int(number(m.group(1))), m.start(), m.end())
    m = _NO_NODE_POSITIVE.search(text)
    return Found(0, m.start(), m.end()) if m else None


def stage(text: str) -> Found | None:
    """The stage as written ('stage-IIIA (T3 N2a M0)', 'ypT2N2a'), when parse_stage reads it."""
    group = _STAGE_GROUP.search(text)
    tnm = _TNM_TEXT.search(text)
    spans = [m for m in (group, tnm) if m]
    if not spans:
        return None
    start = min(m.start() for m in spans)
    end = max(m.end() for m in spans)
    if end - start > 40:  # a group and a TNM far apart are two statements; keep the first
        first = min(spans, key=lambda m: m.start())
        start, end = first.start(), first.end()
    written = text[start:end].strip(" (")
    if written.count("(") > written.count(")"):
        written += ")"
    parsed = parse_stage(written)
    if not any((parsed.group, parsed.t, parsed.n, parsed.m)):
        return None
    return Found(written, start, end)


def germline(text: str) -> list[Found]:
    """Germline results: 'BRCA1-positive', 'BRCA2 mutation'."""
    out = []
    for m in _GERMLINE.finditer(text):
        result = m.group(2).lower()
        result = "positive" if result.startswith(("mutat", "carrier", "pathogenic")) else result
        out.append(Found((m.group(1).upper(), result), m.start(), m.end()))
    for m in _GERMLINE_TEST.finditer(text):
        genes = ("BRCA1", "BRCA2") if m.group(1).upper() != "BRCA" or "1" in m.group(1) else ("BRCA",)
        for gene in genes:
            out.append(Found((gene, "negative"), m.start(), m.end()))
    return out


def menopausal(text: str) -> Found | None:
    """premenopausal, perimenopausal or postmenopausal, as one word or told of the menopause ('past the
    menopause', 'before her menopause')."""
    m = _MENOPAUSE.search(text)
    if m:
        return Found(f"{m.group(1).lower()}menopausal", m.start(), m.end())
    m = _OF_MENOPAUSE.search(text)
    if m:
        said = m.group(1).lower()
        when = "pre" if said.startswith("before") or re.search(r"\bnot\b", said) else "post"
        return Found(f"{when}menopausal", m.start(), m.end())
    return None


def ecog(text: str) -> Found | None:
    """ECOG performance status, 0 to 5."""
    m = _ECOG.search(text)
    return Found(int(m.group(1)), m.start(), m.end()) if m else None
