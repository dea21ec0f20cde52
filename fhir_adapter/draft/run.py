"""`fhir-adapter draft` end to end: read texts, draft, write YAML and evidence sidecars, optionally check."""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..casefile import wide_encoding
from ..convert import ConvertOptions, convert_bytes
from ..errors import EXIT_INVALID_CASE, EXIT_OK, AdapterError, ConfigError, InvalidCaseError
from ..terminology import Terminology
from ..writer import ensure_dir, write_atomic
from . import Draft, draft_text
from .llm import LlmSettings, llm_drafts
from .output import draft_yaml, evidence_json
from .review import review_html


@dataclass(frozen=True)
class DraftOptions:
    """Settings of one draft run, frozen and passed down."""

    out: str | None = None  # a file, a directory, or None for stdout
    check: bool = False
    llm: LlmSettings | None = None
    html: bool = False  # write CASE.review.html beside each draft


def read_inputs(names: list[str]) -> list[tuple[str, str | InvalidCaseError]]:
    """(name, text) of each input: files as named, '-' (or nothing) for standard input.

    A file that is no plain-text report (a PDF, RTF, HTML, binary, not UTF-8) gives its error in
    place of its text, so the other reports are drafted; a file that cannot be read at all stops
    the run, as before.
    """
    if not names and sys.stdin.isatty():
        raise ConfigError("no report given: name REPORT files, or - to read one from standard input")
    out: list[tuple[str, str | InvalidCaseError]] = []
    for name in names or ["-"]:
        if name == "-":
            # Read as bytes and judged as a file is: a PDF or UTF-16 piped in is named, and a byte
            # that is not UTF-8 is an error, not a character the drafting rules cannot encode.
            stdin = getattr(sys.stdin, "buffer", None)
            raw = stdin.read(4 * READ_LIMIT + 1) if stdin is not None else sys.stdin.read().encode()
            if len(raw) > 4 * READ_LIMIT:  # no further: the rest is not needed to refuse it
                out.append(("stdin", _too_long("stdin", f"more than {4 * READ_LIMIT:,} bytes")))
                continue
            text_or_error = _plain_text("stdin", raw)
            if isinstance(text_or_error, str):
                text_or_error = _refuse_markup("stdin", text_or_error) or text_or_error
            out.append(("stdin", text_or_error))
            continue
        path = Path(name)
        try:
            info = path.stat()
            size = info.st_size
            if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                # Opened, a FIFO or a device blocks until something writes to it: the run would hang.
                raise ConfigError(
                    f"{name}: not a regular file (a pipe or device); name a text file, or - for stdin"
                )
            if size > 4 * READ_LIMIT:  # more characters than the limit, whatever their encoding
                out.append((path.stem, _too_long(name, f"{size:,} bytes")))
                continue
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{name}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read it: {exc.strerror}") from None
        text_or_error = _plain_text(name, raw)
        if isinstance(text_or_error, str):
            text_or_error = _refuse_markup(name, text_or_error) or text_or_error
        out.append((path.stem, text_or_error))
    return out


# The longest text read. Drafting time grows faster than the text (one run, a 2-core machine under
# load: 241,600 characters in 3.8 s, 483,200 in 26 s, 2,416,000 in 331 s), so the library's own limit
# (5,000,000) would let one file hold a run for half an hour.
READ_LIMIT = 500_000

# What a file is, by its first bytes, when it is no plain text: said, so the fix is plain.
_KINDS = (
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a zip archive (a Word .docx or an OpenDocument file is one)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc)"),
)
_SAVE = "copy the report into a plain-text file saved as UTF-8 (.txt)"


def _plain_text(name: str, raw: bytes) -> str | InvalidCaseError:
    """The text of a report file, or the error saying what the file is instead."""
    wide = wide_encoding(raw)
    kind = f"{wide} text" if wide else next((kind for magic, kind in _KINDS if raw.startswith(magic)), None)
    if kind is not None:
        return InvalidCaseError(f"{name}: this is {kind}, not plain text; {_SAVE}", file=name)
    try:
        # A UTF-8 byte order mark is no character of the report: its header line must start it.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return InvalidCaseError(
            f"{name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); {_SAVE}", file=name
        )


_MARKUP = re.compile(r"\s*(?:\{\\rtf|<!doctype\s|<html[\s>]|<\?xml\s|<article[\s>])", re.IGNORECASE)


def _too_long(name: str, size: str) -> InvalidCaseError:
    return InvalidCaseError(
        f"{name}: the text has {size}; draft reads at most {READ_LIMIT:,} characters (a case report is far"
        " shorter, and drafting time grows faster than the text). Give the report's own text, or split"
        " a collection into one file per report",
        file=name,
    )


def _refuse_markup(name: str, text: str) -> InvalidCaseError | None:
    """Refuse a text the rules would read wrongly: NUL bytes, RTF, HTML or XML markup.

    Markup was drafted as if it were the report's words: control words and tags sat among them,
    and an entity (&minus;, &#8722;) hid the sign of a result.
    """
    if len(text) > READ_LIMIT:
        return _too_long(name, f"{len(text):,} characters")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        return InvalidCaseError(
            f"{name}:{line}: a NUL byte: a binary file, or UTF-16 text without its mark; {_SAVE}", file=name
        )
    if not text.strip():
        return InvalidCaseError(f"{name}: the report is empty; give the text of a case report", file=name)
    match = _MARKUP.match(text)
    if match:
        kind = "an RTF document" if "rtf" in match.group(0).lower() else "an HTML or XML document"
        return InvalidCaseError(f"{name}: this is {kind}, not plain text; {_SAVE}", file=name)
    return None


def _targets(drafts: list[Draft], out: str | None) -> list[Path | None]:
    if out is None:
        return [None] * len(drafts)
    path = Path(out)
    if path.is_dir() or out.endswith(("/", "\\")):
        ids = [d.case["case"]["id"] for d in drafts]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            # Reports named alike in two directories (a/report.txt, b/report.txt) draft one case id:
            # the second draft replaced the first in DIR without a word.
            others = f" (and {len(twice) - 1} other case id(s) likewise)" if len(twice) > 1 else ""
            raise ConfigError(
                f"-o {out}: {ids.count(twice[0])} drafts have the case id"
                f" '{twice[0]}'{others} (reports of one file name, or one report given twice), and each would"
                " replace the other there; rename the reports so their names differ"
            )
        ensure_dir(path)
        return [path / f"{i}.yaml" for i in ids]
    if len(drafts) > 1:
        raise ConfigError(
            f"-o {out}: the input gives {len(drafts)} cases; give a directory (-o DIR/) to write one file per case"
        )
    return [path]


def text_only(draft: Draft, text: str, terminology: Terminology) -> list[tuple[str, str, str]] | None:
    """What convert keeps as text only in this draft (field, term, why), or None when it does not convert."""
    name = f"{draft.case['case']['id']}.yaml"
    outcome = convert_bytes(name, text.encode(), terminology, ConvertOptions())
    if outcome.error is not None:
        return None
    return [(u.field, u.term, f"{u.reason}: {u.map_file}") for u in outcome.conversion.uncoded]


def check_draft(draft: Draft, text: str, terminology: Terminology) -> tuple[bool, list[str]]:
    """Convert the draft as written; whether it converts, and lines on what stays text only."""
    name = f"{draft.case['case']['id']}.yaml"
    outcome = convert_bytes(name, text.encode(), terminology, ConvertOptions())
    if outcome.error is not None:
        return False, [f"check: {name}: does not convert: {outcome.error}"]
    uncoded = outcome.conversion.uncoded
    lines = [f"check: {name}: converts to {len(outcome.conversion.resources)} resources"]
    if uncoded:
        lines[0] += f"; {len(uncoded)} term(s) stay text only:"
        lines.extend(f"  {u.field}: '{u.term}' ({u.reason}: {u.map_file})" for u in uncoded)
    return True, lines


def run(
    names: list[str],
    options: DraftOptions,
    terminology: Terminology,
    say: Callable[[str], None],
    verbosity: int = 0,
) -> int:
    """Draft every input; write the drafts; return the exit code."""
    if options.html and options.out is None:
        raise ConfigError(
            "--html writes CASE.review.html beside each draft: give -o CASE.yaml or -o DIR/ too"
        )
    inputs = read_inputs(names)
    drafts: list[Draft] = []
    failed = 0
    for name, text in inputs:
        try:
            if isinstance(text, InvalidCaseError):
                raise text
            if options.llm is not None:
                found = llm_drafts(text, options.llm, name=name)
            else:
                found = draft_text(text, name=name, terminology=terminology)
        except AdapterError as exc:
            if isinstance(exc, ConfigError) or len(inputs) == 1:
                raise
            say(f"Error: {exc}")
            failed += 1
            continue
        drafts.extend(found)
    targets = _targets(drafts, options.out)
    bad = 0
    documents = []
    for draft, target in zip(drafts, targets, strict=True):
        sidecar = target.with_suffix(".evidence.json") if target is not None else None
        text = draft_yaml(draft, sidecar.name if sidecar else None)
        if target is None:
            documents.append(text)
        else:
            # Through the one atomic writer: a missing directory is made, a symlink is replaced
            # rather than written through, and a full disk leaves nothing half-written.
            write_atomic(target, text.encode("utf-8"))
            write_atomic(sidecar, evidence_json([draft]).encode("utf-8"))
            also = ""
            if options.html:
                page = target.with_name(target.name.rsplit(".", 1)[0] + ".review.html")
                write_atomic(page, review_html(draft, text_only(draft, text, terminology)).encode("utf-8"))
                also = f", review page {page.name}"
            if verbosity >= 0:
                say(f"{target}: {_summary(draft)}; evidence in {sidecar.name}{also}")
        if options.check:
            ok, lines = check_draft(draft, text, terminology)
            bad += not ok
            for line in lines if verbosity >= 0 or not ok else []:
                say(line)
    if documents:
        sys.stdout.write("---\n".join(documents))
    if verbosity >= 0 and drafts and options.out is None:
        for draft in drafts:
            say(f"{draft.case['case']['id']}: {_summary(draft)}")
    return EXIT_INVALID_CASE if (bad or failed) else EXIT_OK


def _summary(draft: Draft) -> str:
    counts = [
        f"{len(draft.case.get(k, []))} {label}"
        for k, label in (
            ("metastases", "metastases"),
            ("procedures", "procedures"),
            ("medications", "medications"),
            ("disease_status", "disease statuses"),
        )
    ]
    return f"{len(draft.evidence)} facts with evidence ({', '.join(counts)}), {len(draft.review)} to review"
