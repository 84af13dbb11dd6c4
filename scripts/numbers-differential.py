#!/usr/bin/env python3
"""Differential test: the service's phone-number rules against libphonenumber's Python port.

Needs the reference, which this script does not install:  pip install phonenumbers
(`phonenumbers==9.0.33` carries the same metadata as the service's `phonenumber` crate, whose
Cargo.lock version ends in `+9.0.33`, so only the rules and the parsers are compared; a newer release
also flags numbers assigned or withdrawn since, e.g. area codes the crate does not know yet.)

It generates a fixed corpus (seeded, so every run sends the same inputs for a given `phonenumbers`
release) of several thousand inputs: US numbers from every NANP area code the reference's metadata
knows, Canadian, Caribbean and US-territory numbers, invalid area codes and exchanges, toll-free and
other non-geographic codes, other countries (valid, invalid, unassigned codes), each in the common
ways of writing them, with and without surrounding white space, with extensions, and junk. For each
input it computes the class the service should give (the reference's verdict under the service's
rules, see `expected`), runs the service's classifier (crates/sms-domain/examples/classify.rs) on
the whole corpus, and compares line by line.

    cargo build -p sms-domain --example classify
    python3 scripts/numbers-differential.py
    python3 scripts/numbers-differential.py --classifier 'cargo run -q -p sms-domain --example classify'
    python3 scripts/numbers-differential.py --reference-only > /tmp/numbers.tsv   # no Rust needed

The classifier command is --classifier, else $NUMBERS_CLASSIFIER, else
target/debug/examples/classify (under $CARGO_TARGET_DIR when set); it runs from the repository root.
Exit status: 0 when every number agrees, 1 when any disagrees or nothing was compared, 2 when the
reference fails its own self-check or the classifier cannot be run.
"""

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict

try:
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
except ImportError:
    print("numbers: the reference is missing: pip install phonenumbers", file=sys.stderr)
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240611
MAX_INPUT_BYTES = 64
# Unicode White_Space, the set Rust's `str::trim` removes (Python's `str.strip()` differs slightly).
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
# What may stand between a leading `+` and the first digit of the country code.
PLUS_SEPARATORS = " -.()"
US_TERRITORIES = {"PR", "GU", "VI", "AS", "MP"}
SHOWN_DISAGREEMENTS = 30

# Ways of writing a NANP number; a = area code, b = exchange, c = line. The first nine are the
# usual ones; the others are variants of them.
NANP_FORMATS = [
    "+1 {a}-{b}-{c}",
    "+1{a}{b}{c}",
    "1 ({a}) {b}-{c}",
    "({a}) {b}-{c}",
    "{a}.{b}.{c}",
    "{a}-{b}-{c}",
    "{a}{b}{c}",
    "1-{a}-{b}-{c}",
    "+1.{a}.{b}.{c}",
    "+1 ({a}) {b}-{c}",
    "+1-{a}-{b}-{c}",
    "+1 {a} {b} {c}",
    "1{a}{b}{c}",
    "1 {a} {b} {c}",
    "{a} {b} {c}",
    "({a}){b}-{c}",
]

# Countries outside the NANP whose numbers the corpus writes in international form.
OTHER_REGIONS = [
    "GB", "KR", "IN", "MX", "FR", "DE", "JP", "AU", "BR", "CN", "PH", "NG", "RU", "KZ", "IT",
    "ES", "IL", "AE", "ZA", "NZ", "SG", "HK", "EG", "AR", "CO", "PL", "NL", "IE", "CH", "TR",
]

EXTENSIONS = [
    " ext. 12", " ext 1234", " x12", " x 12", "x12", " X12", " ext.12", " EXT. 99", " Ext: 7",
    " extension 5", " extn 42", ";ext=12", " #12", ",12", " ext. 1234567", " ext. 12345678",
]


def trim(text):
    return text.strip(WHITE_SPACE)


def expected(raw):
    """The class the service should give `raw`: (class, E.164 or "").

    The reference (`phonenumbers`) reads the number; the service's rules turn its verdict into a
    class. Ordered like the service: too long or empty; a leading `+` with a country code other
    than 1; not parseable as a US-default number; an extension; a country code other than 1 reached
    without a leading `+` (an 011 prefix, `(+44)`, `tel:+44`); not valid; valid but outside the US
    region.
    """
    text = trim(raw)
    if not text or len(text.encode("utf-8")) > MAX_INPUT_BYTES:
        return ("invalid", "")
    if text.startswith("+"):
        first = text[1:].lstrip(PLUS_SEPARATORS)[:1]
        if first and first in "023456789":
            return ("non_us", "")
    try:
        number = phonenumbers.parse(text, "US")
    except NumberParseException:
        return ("invalid", "")
    if number.extension:
        return ("invalid", "")
    if number.country_code != 1:
        return ("non_us", "")
    if not phonenumbers.is_valid_number(number):
        return ("invalid", "")
    if phonenumbers.region_code_for_number(number) != "US":
        return ("non_us", "")
    return ("us", phonenumbers.format_number(number, PhoneNumberFormat.E164))


# Fixed verdicts the reference must keep giving (they are the service's own unit-test examples);
# if a `phonenumbers` release changes one, the corpus's expectations can no longer be trusted.
SELF_CHECK = [
    ("+1 415-555-0100", "us", "+14155550100"),
    ("(415) 555-0100", "us", "+14155550100"),
    ("4155550100", "us", "+14155550100"),
    ("415.555.0100", "us", "+14155550100"),
    ("1 415 555 0100", "us", "+14155550100"),
    ("+14155550100", "us", "+14155550100"),
    ("  +1 628-555-0199  ", "us", "+16285550199"),
    ("+82 000-000-0000", "non_us", ""),
    ("+44 20 7946 0958", "non_us", ""),
    ("+7", "non_us", ""),
    ("+1 416-555-0100", "non_us", ""),
    ("+1 876-555-0100", "non_us", ""),
    ("12345", "invalid", ""),
    ("abc", "invalid", ""),
    ("+", "invalid", ""),
    ("+1", "invalid", ""),
    ("+1 000-000-0000", "invalid", ""),
    ("", "invalid", ""),
    ("   ", "invalid", ""),
    ("+abc", "invalid", ""),
    ("555-0100", "invalid", ""),
    ("+1 415-555-0100 ext. 12", "invalid", ""),
    ("4155550100 x12", "invalid", ""),
    ("4" * 500, "invalid", ""),
]


def self_check():
    wrong = [(raw, (cls, e164), expected(raw)) for raw, cls, e164 in SELF_CHECK if expected(raw) != (cls, e164)]
    for raw, want, got in wrong:
        print(f"self-check: the reference gives {show(raw)} {got}, the rules say {want}", file=sys.stderr)
    return not wrong


# --- The corpus -----------------------------------------------------------------------------------


class Corpus:
    """Inputs in generation order, each with a category and the way it was written."""

    def __init__(self):
        self.cases = []
        self.seen = set()

    def add(self, category, fmt, text):
        if "\n" in text or "\r" in text:
            raise ValueError(f"an input cannot hold a line break: {text!r}")
        if text in self.seen:
            return
        self.seen.add(text)
        self.cases.append((category, fmt, text))


def nanp_number(national):
    return phonenumbers.PhoneNumber(country_code=1, national_number=int(national))


def nanp_category(npa, nxx, line):
    """Where the reference puts the 10-digit NANP number `npa nxx line` (the corpus's grouping)."""
    number = nanp_number(npa + nxx + line)
    if not phonenumbers.is_valid_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    if region == "US":
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.TOLL_FREE:
            return "toll-free"
        if kind == PhoneNumberType.PREMIUM_RATE:
            return "us-premium-rate"
        if kind == PhoneNumberType.PERSONAL_NUMBER:
            return "us-personal-5xx"
        if kind in (PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            return "us-geographic"
        return "us-other-type"
    if region in US_TERRITORIES:
        return "us-territory"
    if region == "CA":
        return "canada"
    return "caribbean"


def render_nanp(fmt, npa, nxx, line):
    return fmt.format(a=npa, b=nxx, c=line)


def sweep_area_codes(rng):
    """Every area code 200-999, one number per exchange lead digit 2-9.

    The reference decides which area codes exist and where: no list of area codes is written here.
    Returns (category, npa, nxx, line) bases and the set of area codes valid somewhere.
    """
    bases = []
    valid_npas = set()
    for npa_value in range(200, 1000):
        npa = str(npa_value)
        tried = []
        for lead in range(2, 10):
            nxx = f"{lead}{rng.randrange(100):02d}"
            line = f"{rng.randrange(10000):04d}"
            tried.append((nanp_category(npa, nxx, line), nxx, line))
        if any(category for category, _, _ in tried):
            valid_npas.add(npa)
            for category, nxx, line in tried:
                bases.append((category or "nanp-invalid-exchange-lead", npa, nxx, line))
        else:
            invalid = "nanp-n11-area" if npa.endswith("11") else "nanp-unassigned-area"
            for category, nxx, line in tried[:2]:
                bases.append((invalid, npa, nxx, line))
    return bases, valid_npas


def region_specific_numbers(rng, per_region=8):
    """Valid numbers of each NANP region other than the US, from its example numbers and a scan of
    every exchange of the area codes those examples use (Caribbean plans are set per exchange)."""
    bases = []
    for region in phonenumbers.region_codes_for_country_code(1):
        if region == "US":
            continue
        found = set()
        npas = set()
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code == 1:
                digits = str(example.national_number)
                if len(digits) == 10:
                    found.add(digits)
                    npas.add(digits[:3])
        for npa in sorted(npas):
            for nxx_value in range(200, 1000):
                national = f"{npa}{nxx_value}{rng.randrange(10000):04d}"
                number = nanp_number(national)
                if phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == region:
                    found.add(national)
        chosen = sorted(found)
        if len(chosen) > per_region:
            chosen = sorted(rng.sample(chosen, per_region))
        for national in chosen:
            category = nanp_category(national[:3], national[3:6], national[6:])
            if category:
                bases.append((category, national[:3], national[3:6], national[6:]))
    return bases


def special_nanp(rng, valid_npas):
    """Families worth naming: fictional 555 numbers, N11 exchanges, 0xx/1xx codes, toll-free."""
    bases = []
    us_npas = sorted(npa for npa in valid_npas if nanp_category(npa, "234", "5678") == "us-geographic")
    for npa in rng.sample(us_npas, 12):
        for line in (f"01{rng.randrange(100):02d}", "1212", "4567"):
            bases.append(("us-555-exchange", npa, "555", line))
        for nxx in ("211", "411", "611", "911"):
            bases.append(("nanp-n11-exchange", npa, nxx, f"{rng.randrange(10000):04d}"))
        for nxx in ("011", "099", "123", "199"):
            bases.append(("nanp-0xx-1xx-exchange", npa, nxx, f"{rng.randrange(10000):04d}"))
    for npa in ("000", "011", "099", "100", "123", "150", "199"):
        bases.append(("nanp-0xx-1xx-area", npa, f"{rng.randrange(200, 1000)}", f"{rng.randrange(10000):04d}"))
    # Toll-free codes in use, and the 8xx codes reserved for toll-free next to them; 800-1xx falls
    # under the Dominican Republic's leading digits (8001) in the metadata.
    for category, npas in (
        ("toll-free", ("800", "833", "844", "855", "866", "877", "888")),
        ("toll-free-reserved", ("822", "880", "881", "882", "883", "884", "885", "886", "887", "889")),
    ):
        for npa in npas:
            for _ in range(2):
                bases.append((category, npa, f"{rng.randrange(200, 1000)}", f"{rng.randrange(10000):04d}"))
    bases.append(("toll-free-reserved", "800", "123", "4567"))
    return bases


def add_nanp(corpus, rng, bases, per_category=15):
    """Every base number in one format (taken in turn), then a sample of each category in every
    format."""
    for i, (category, npa, nxx, line) in enumerate(bases):
        fmt = NANP_FORMATS[i % len(NANP_FORMATS)]
        corpus.add(category, fmt, render_nanp(fmt, npa, nxx, line))
    by_category = defaultdict(list)
    for base in bases:
        by_category[base[0]].append(base)
    for category in sorted(by_category):
        sample = by_category[category]
        if len(sample) > per_category:
            sample = rng.sample(sample, per_category)
        for _, npa, nxx, line in sample:
            for fmt in NANP_FORMATS:
                corpus.add(category, fmt, render_nanp(fmt, npa, nxx, line))


def other_country_numbers(rng, region, variants=3):
    numbers = []
    for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        numbers.append(example)
        nsn = str(example.national_number)
        made = 0
        for _ in range(30):
            if made == variants:
                break
            tail = "".join(str(rng.randrange(10)) for _ in range(min(4, len(nsn) - 2)))
            candidate = phonenumbers.PhoneNumber(
                country_code=example.country_code, national_number=int(nsn[: len(nsn) - len(tail)] + tail)
            )
            if example.italian_leading_zero:
                candidate.italian_leading_zero = True
            if phonenumbers.is_valid_number(candidate):
                numbers.append(candidate)
                made += 1
    return numbers


def add_other_countries(corpus, rng):
    for region in OTHER_REGIONS:
        for number in other_country_numbers(rng, region):
            cc = str(number.country_code)
            nsn = phonenumbers.national_significant_number(number)
            intl = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
            spaced_rest = intl.split(" ", 1)[1] if " " in intl else nsn
            for fmt, text in (
                ("+cc nsn", f"+{cc}{nsn}"),
                ("international", intl),
                ("international with -", intl.replace(" ", "-")),
                ("international with .", intl.replace(" ", ".")),
                ("+cc (rest)", f"+{cc} ({spaced_rest})"),
            ):
                corpus.add("other-country-valid", fmt, text)
            corpus.add("other-country-valid", "(+cc) rest", f"(+{cc}) {spaced_rest}")
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            corpus.add("other-country-national", "national", national)
            corpus.add("idd-011", "011 cc nsn", f"011 {cc} {nsn}")
            corpus.add("idd-00", "00 cc nsn", f"00{cc} {nsn}")
        cc = str(phonenumbers.country_code_for_region(region))
        corpus.add("other-country-invalid", "+cc zeros", f"+{cc} 000-000-0000")
        for _ in range(3):
            digits = "".join(str(rng.randrange(10)) for _ in range(rng.randint(1, 14)))
            corpus.add("other-country-invalid", "+cc digits", f"+{cc}{digits}")
            corpus.add("other-country-invalid", "+cc spaced digits", f"+{cc} {digits}")
    # Country codes no country has.
    assigned = set(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    # (Any code written with a leading 1 is country code 1 followed by more digits.)
    unassigned = [str(code) for code in range(2, 1000) if code not in assigned and not str(code).startswith("1")]
    for cc in ["0", "00", "001"] + sorted(rng.sample(unassigned, 15), key=int):
        corpus.add("unassigned-country-code", "+cc digits", f"+{cc} {rng.randrange(10**6, 10**9)}")


def add_extensions(corpus, rng):
    bases = ("us-geographic", "canada", "other-country-valid", "toll-free")
    written = [case for case in corpus.cases if case[0] in bases]
    for category, fmt, text in rng.sample(written, 60):
        for suffix in rng.sample(EXTENSIONS, 3):
            corpus.add("extension", f"{category}: {fmt} + ext", text + suffix)
    for text in (
        "4155550100 x", "4155550100x", "415-555-0100 ext", "415-555-0100 ext.", "4155550100#",
        "415-555-0100 #", "415 555 0100 x" + "1" * 20, "415-555-0100 int 12", "415-555-0100 anexo 12",
        "415-555-0100 ext. 12 ext. 13", "(530) 583-6985 x302/x2303", "+1 415-555-0100;ext=",
        "415-555-0100 12#",
    ):
        corpus.add("extension-edge", "fixed", text)


def add_white_space(corpus, rng):
    pads = [" ", "  ", "\t", " \t ", "\xa0", "\u3000", "\u2003", "\x85", "\u202f"]
    candidates = [case for case in corpus.cases if case[2]]
    for category, fmt, text in rng.sample(candidates, 200):
        left, right = rng.choice(pads), rng.choice(pads)
        where = rng.randrange(3)
        padded = (left if where != 1 else "") + text + (right if where != 0 else "")
        corpus.add("white-space", f"{category}: {fmt} padded", padded)
    for pad in pads:
        corpus.add("white-space", "only white space", pad * 3)


def add_length_boundary(corpus, valid_npas):
    npa = sorted(npa for npa in valid_npas if nanp_category(npa, "234", "5678") == "us-geographic")[0]
    body = f"{npa} 234 5678"
    for total in range(60, 69):
        gap = total - len("+1") - len(body)
        corpus.add("length-boundary", f"{total} bytes (spaces inside)", "+1" + " " * gap + body)
        corpus.add("length-boundary", f"{total} bytes plus outer white space", "  +1" + " " * gap + body + "\t ")
    # Two-byte no-break spaces: all under 64 characters, some over 64 bytes.
    for text in ("+1" + "\xa0" * 24 + body, "+1" + "\xa0" * 25 + body, "+1 " + "\xa0" * 25 + body,
                 "+1" + "\xa0" * 26 + body):
        corpus.add("length-boundary", f"{len(text.encode())} bytes in {len(text)} characters", text)
    corpus.add("length-boundary", "65 digits", "4" * 65)
    corpus.add("length-boundary", "500 digits", "4" * 500)
    corpus.add("length-boundary", "64 digits", "4" * 64)
    corpus.add("length-boundary", "valid + long extension", f"+1 {body} ext. " + "1" * 50)


FIXED = {
    "junk": [
        "", "12345", "abc", "1", "0", "00", "+", "+1", "+1-", "+1 (", "()", "-", ".", "555-0100", "5550100",
        "415", "415-555", "41555501", "415555010", "41555501000", "+1 415 555 01000", "+1 415 555 010",
        "00000000000", "0000000000", "1111111111", "11111111111", "9999999999", "hello world",
        "call me", "n/a", "null", "+1 abc def ghij", "415 555 0100 / 415 555 0101",
        "+1 415 555 0100 +1 415 555 0101", "4155550100 4155550101", "#4155550100", "*4155550100",
        "415-555-0100abc", "415 555 0100 (cell)", "call 415-555-0100", "tel. 415-555-0100",
        "phone: (415) 555-0100", "415_555_0100", "4155550100@example.com",
    ],
    "vanity": [
        "1-800-FLOWERS", "1-800-flowers", "800-FLOWERS", "1-800-GOT-JUNK", "(800) CALL-NOW",
        "+1 800 FLOWERS", "1-800-356-9377", "415-JKL-0100",
        # Typos: a letter or two for a digit (fewer than three letters is no vanity number).
        "415-555-O100", "415-555-01OO", "415-555-0l00", "4I5-555-0100", "(4l5) 555-0100",
    ],
    "unicode-digits": [
        "\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
        "+\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff10\uff10",
        "\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",
        "\u096a\u0967\u096b\u096b\u096b\u096b\u0966\u0967\u0966\u0966",
        "\uff0b1 415 555 0100", "\uff0b44 20 7946 0958", "\uff0b82 000-000-0000",
    ],
    "unicode-punctuation": [
        "415\u2010555\u20100100", "415\u2013555\u20130100", "415\u2014555\u20140100", "\uff08415\uff09555-0100",
        "415\u00a0555\u00a00100", "415\u3000555\u30000100", "415\u200b555\u200b0100", "415\u2212555\u22120100",
        "+1\u00a0415\u00a0555\u00a00100", "415\uff0e555\uff0e0100", "415\u2060555\u20600100",
    ],
    "odd-punctuation": [
        "415--555--0100", "[415] 555-0100", "415/555-0100", "415 555 01 00", "4 1 5 5 5 5 0 1 0 0",
        "(415)555-0100", "415,555,0100", "+1-(415)-555-0100", "+1/415/555/0100", "1 415 555 0100.",
        "415.555.0100.", ".415.555.0100", "-415-555-0100", "(415) 555 - 0100", "((415)) 555-0100",
        "415)555-0100", "(415 555-0100", "~415-555-0100", "1~415~555~0100", "415.555-0100",
    ],
    "plus-variants": [
        "++1 415 555 0100", "++14155550100", "+ 1 415 555 0100", "+ +1 415 555 0100", "+-1 415 555 0100",
        "+(1) 415 555 0100", "+ 1 (415) 555-0100", "+.1.415.555.0100", "(+1) 415 555 0100",
        "+ 44 20 7946 0958", "+(44) 20 7946 0958", "++44 20 7946 0958", "+-44 20 7946 0958",
        "+1 44 20 7946 0958", "+1 82 000 000 0000", "1+415 555 0100", "415+555+0100", "+415 555 0100",
        "+1415 555 0100", "+11 415 555 0100", "+01 415 555 0100", "+abc", "+ abc", "+()",
        "+\u00a01 415 555 0100", "+\u00a044 20 7946 0958",
        # No space, no separator after the area code: `+1415` read as one country code?
        "+1415-555-0100", "+1415.555.0100", "+1415-5550100", "+1(415)555-0100",
    ],
    "rfc3966": [
        "tel:+1-415-555-0100", "tel:+1-415-555-0100;ext=12", "tel:415-555-0100;phone-context=+1",
        "tel:+44-20-7946-0958", "tel:+1-416-555-0100", "TEL:+1-415-555-0100", "tel:4155550100",
        "tel:+1-415-555-0100;isub=12", "sip:+14155550100@example.com",
    ],
    "unit-test-examples": [raw for raw, _, _ in SELF_CHECK]
    + ["+1 628-555-0199", "1 415 555 0100", "+1 876-555-0100"],
}


def build_corpus(seed=SEED):
    rng = random.Random(seed)
    corpus = Corpus()
    for category, texts in FIXED.items():
        for text in texts:
            corpus.add(category, "fixed", text)
    sweep, valid_npas = sweep_area_codes(rng)
    others = region_specific_numbers(rng) + special_nanp(rng, valid_npas)
    add_nanp(corpus, rng, sweep + others)
    add_other_countries(corpus, rng)
    add_length_boundary(corpus, valid_npas)
    add_extensions(corpus, rng)
    add_white_space(corpus, rng)
    return corpus.cases


# --- Running and comparing ------------------------------------------------------------------------


def service_metadata_version():
    """The libphonenumber release whose metadata the service's `phonenumber` crate bundles (the
    `+9.0.33` of its version in Cargo.lock), or None."""
    try:
        with open(os.path.join(REPO, "Cargo.lock"), encoding="utf-8") as lock:
            text = lock.read()
    except OSError:
        return None
    marker = 'name = "phonenumber"\nversion = "'
    start = text.find(marker)
    if start < 0:
        return None
    version = text[start + len(marker):].split('"', 1)[0]
    return version.split("+", 1)[1] if "+" in version else None


def classifier_command(argument):
    if argument:
        return shlex.split(argument)
    if os.environ.get("NUMBERS_CLASSIFIER"):
        return shlex.split(os.environ["NUMBERS_CLASSIFIER"])
    target = os.environ.get("CARGO_TARGET_DIR") or "target"
    return [os.path.join(REPO, target, "debug", "examples", "classify")]


def run_classifier(command, inputs, timeout):
    """The classifier's (class, e164) for each input, or None after saying why it could not run."""
    payload = "".join(text + "\n" for text in inputs)
    try:
        done = subprocess.run(
            command, input=payload.encode("utf-8"), capture_output=True, cwd=REPO, timeout=timeout, check=False
        )
    except FileNotFoundError:
        print(f"numbers: cannot run {shlex.join(command)}; build it with "
              "`cargo build -p sms-domain --example classify` or pass --classifier", file=sys.stderr)
        return None
    except subprocess.TimeoutExpired:
        print(f"numbers: {shlex.join(command)} did not finish in {timeout} s", file=sys.stderr)
        return None
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode("utf-8", "replace"))
        print(f"numbers: {shlex.join(command)} exited with {done.returncode}", file=sys.stderr)
        return None
    lines = done.stdout.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    answers = []
    for line in lines:
        cls, _, e164 = line.partition("\t")
        answers.append((cls, e164))
    return answers


def show(text):
    """`text` quoted, with invisible and look-alike space characters escaped."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(
        f"\\u{ord(c):04x}" if c != " " and unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc", "Cf") else c
        for c in quoted
    )


def nanp_area_code(text):
    """The area code the reference reads in `text`, for grouping NANP disagreements."""
    try:
        number = phonenumbers.parse(trim(text), "US")
    except NumberParseException:
        return None
    digits = str(number.national_number)
    return digits[:3] if number.country_code == 1 and len(digits) == 10 else None


def report(cases, wanted, answers):
    total = Counter()
    wrong = Counter()
    by_format = Counter()
    area_codes = Counter()
    disagreements = defaultdict(list)
    for (category, fmt, text), want, got in zip(cases, wanted, answers):
        total[category] += 1
        if want != got:
            wrong[category] += 1
            by_format[fmt] += 1
            disagreements[category].append((text, want, got))
            area = nanp_area_code(text)
            if area:
                area_codes[area] += 1
    compared = sum(total.values())
    disagreeing = sum(wrong.values())
    print(f"{'category':<28} {'compared':>8} {'disagree':>8}")
    for category in sorted(total):
        print(f"{category:<28} {total[category]:>8} {wrong[category]:>8}")
    if disagreeing:
        print("\ndisagreements by format:")
        for fmt, count in by_format.most_common(20):
            print(f"  {count:>6}  {fmt}")
        if area_codes:
            print("\nNANP area codes of the disagreements: "
                  + ", ".join(f"{area} ({count})" for area, count in area_codes.most_common(40)))
        print(f"\nfirst {SHOWN_DISAGREEMENTS} disagreements, taken in turn from each category:")
        shown = 0
        depth = 0
        while shown < min(SHOWN_DISAGREEMENTS, disagreeing):
            for category in sorted(disagreements):
                if depth < len(disagreements[category]) and shown < SHOWN_DISAGREEMENTS:
                    text, want, got = disagreements[category][depth]
                    print(f"  [{category}] {show(text)}: expected {' '.join(want).strip()}, "
                          f"service says {' '.join(got).strip()}")
                    shown += 1
            depth += 1
    print(f"\nnumbers: {compared} compared, {disagreeing} disagree")
    return compared, disagreeing


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", help="command that classifies stdin lines (default: see above)")
    parser.add_argument("--reference-only", action="store_true",
                        help="print the corpus with the expected classes (TSV) and a summary; run no classifier")
    parser.add_argument("--seed", type=int, default=SEED, help=f"corpus seed (default {SEED})")
    parser.add_argument("--timeout", type=int, default=900, help="seconds the classifier may take")
    args = parser.parse_args()

    if not self_check():
        print("numbers: the reference fails its self-check; its verdicts cannot be trusted", file=sys.stderr)
        return 2
    cases = build_corpus(args.seed)
    wanted = [expected(text) for _, _, text in cases]
    print(f"reference: phonenumbers {phonenumbers.__version__}, {len(cases)} inputs, seed {args.seed}",
          file=sys.stderr)
    service_metadata = service_metadata_version()
    if service_metadata and service_metadata != phonenumbers.__version__:
        print(f"reference: the service's phonenumber crate bundles libphonenumber {service_metadata} metadata; "
              "numbers whose assignment changed between the two releases will disagree "
              f"(pip install phonenumbers=={service_metadata} compares the rules alone)", file=sys.stderr)

    if args.reference_only:
        counts = defaultdict(Counter)
        for (category, fmt, text), (cls, e164) in zip(cases, wanted):
            print(f"{category}\t{fmt}\t{show(text)}\t{cls}\t{e164}")
            counts[category][cls] += 1
        print(f"\n{'category':<28} {'inputs':>7} {'us':>6} {'non_us':>6} {'invalid':>7}", file=sys.stderr)
        for category in sorted(counts):
            c = counts[category]
            print(f"{category:<28} {sum(c.values()):>7} {c['us']:>6} {c['non_us']:>6} {c['invalid']:>7}",
                  file=sys.stderr)
        return 0

    command = classifier_command(args.classifier)
    answers = run_classifier(command, [text for _, _, text in cases], args.timeout)
    if answers is None:
        return 2
    if len(answers) != len(cases):
        print(f"numbers: sent {len(cases)} inputs, the classifier answered {len(answers)} lines; "
              "cannot pair them up", file=sys.stderr)
        print("numbers: 0 compared (the answers do not line up with the inputs)")
        return 1
    compared, disagreeing = report(cases, wanted, answers)
    if compared == 0:
        print("numbers: nothing was compared; refusing to pass", file=sys.stderr)
        return 1
    return 1 if disagreeing else 0


if __name__ == "__main__":
    sys.exit(main())
