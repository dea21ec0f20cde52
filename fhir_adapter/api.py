"""The library API: a case (a dict or a Case) to a Bundle dict, and bundles to a FHIR server."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

from .bundle import BundleType, build_bundle
from .case import Case
from .casefile import CaseFile, parse_case
from .casefile import load_case as _load_case
from .client import (
    ClientSettings,
    FhirClient,
    RetryPolicy,
    check_url,
    normalise_host,
    shown_url,
    split_credentials,
    url_hosts,
)
from .errors import AdapterError, ConfigError, InvalidCaseError, printable
from .mapping.common import DEFAULT_ID_SYSTEM
from .push import Item, Outbox, PushResult, outbox_key, send_all
from .terminology import Terminology
from .terminology import load_terminology as _load_terminology

# Public test servers: anything posted there can be read by anyone on the internet. A host
# matches by its normalised name (see client.normalise_host), and so do its subdomains.
PUBLIC_SERVERS = (
    "hapi.fhir.org",
    "server.fire.ly",
    "vonk.fire.ly",
    "r4.smarthealthit.org",
    "launch.smarthealthit.org",
    "test.fhir.org",
    "spark.incendi.no",
)


class FhirAdapterWarning(UserWarning):
    """A term kept as text, or another fact fhir-adapter could not code, while converting a case."""


def public_server(url: str) -> str | None:
    """The known public test server a URL points at, however its host is spelt; None if none.

    Both URL parsers' reading of the host counts, each normalised (percent-escapes, IDNA,
    trailing dot, case), so no spelling of a public server's name passes as another host.
    """
    try:
        hosts = url_hosts(url, lenient=True)
    except ValueError:
        return None
    for host in hosts:
        try:
            name = normalise_host(host)
        except ValueError:
            continue
        for public in PUBLIC_SERVERS:
            if name == public or name.endswith("." + public):
                return public
    return None


def check_server(url: str, allow_public_server: bool = False) -> None:
    """Refuse a base URL that is not http(s), or a public test server without explicit consent."""
    if not isinstance(url, str):
        raise ConfigError(f"--server {printable(url, 100)}: not an http(s) URL (a {type(url).__name__})")
    public = public_server(url)  # first: a spelling the connection cannot use still names the server
    if public and not allow_public_server:
        spelt = "" if public in url else f" (the host is {public}, however it is spelt)"
        raise ConfigError(
            f"{shown_url(url)} is a public test server: anything posted there can be read by anyone."
            " Case data, even de-identified, should not go there by accident. Pass"
            f" --allow-public-server to post anyway, or --server URL for your own server{spelt}"
        )
    check_url(url)


def server_settings(
    server: str,
    *,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_bundle: str | None = None,
    allow_public_server: bool = False,
    allow_plain_http_auth: bool = False,
    timeout: float = 120.0,
    max_time: float = 300.0,
) -> ClientSettings:
    """Frozen client settings for a server, after check_server; TLS is always verified.

    user:password@ in the URL counts as basic auth. Credentials over plain http to another
    machine than this one raise ConfigError unless allow_plain_http_auth.
    """
    check_server(server, allow_public_server)
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ConfigError("the token must be non-empty text")
    if token is not None and printable(token) != token:
        raise ConfigError("the token holds a line break or another control character; check the token file")
    if basic_auth is not None and not (
        isinstance(basic_auth, tuple | list)
        and len(basic_auth) == 2
        and all(isinstance(part, str) for part in basic_auth)
    ):
        raise ConfigError("basic auth must be a (user, password) pair of texts")
    if basic_auth is not None and any(printable(part) != part for part in basic_auth):
        raise ConfigError("the user or password holds a line break or another control character")
    if ca_bundle is not None and not (isinstance(ca_bundle, str | PathLike) and Path(ca_bundle).is_file()):
        raise ConfigError(f"--ca-bundle {printable(ca_bundle, 200)}: not a file of CA certificates")
    for name, value in (("--timeout", timeout), ("--max-time", max_time)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not value > 0
            or value == float("inf")
        ):
            raise ConfigError(f"{name} {printable(value, 40)}: give a number of seconds above 0")
    base, in_url = split_credentials(server)
    if in_url is not None and (token or basic_auth):
        raise ConfigError(
            f"--server {shown_url(server)}: holds a user and password, and other credentials are given too;"
            " give them once"
        )
    credentials = bool(token or basic_auth or in_url)
    check_url(server, credentials=credentials, allow_plain_http=allow_plain_http_auth)
    return ClientSettings(
        base_url=base,
        token=token,
        basic_auth=tuple(basic_auth) if basic_auth else in_url,
        verify=str(ca_bundle) if ca_bundle else True,
        read_timeout=float(timeout),
        retry=RetryPolicy(total_timeout=float(max_time)),
    )


@lru_cache(maxsize=1)
def _shipped_terminology() -> Terminology:
    return _load_terminology()


def convert_case(
    case: Mapping[str, Any] | Case,
    *,
    terminology: Terminology | None = None,
    bundle_type: BundleType = "transaction",
    strict: bool = False,
    id_system: str = DEFAULT_ID_SYSTEM,
    name: str = "case",
) -> dict[str, Any]:
    """Convert one case, given as the data of a case file or as a Case, into a FHIR R4 Bundle dict.

    An invalid dict raises InvalidCaseError: one line per problem, `name: field.path: what is
    wrong`, also in `.problems`. A term kept as text emits a FhirAdapterWarning; with
    strict=True it raises MappingError instead.

        >>> bundle = convert_case({"case": {"id": "c1"}, "patient": {"sex": "female"},
        ...                        "primary_cancers": [{"site": "breast"}]})
        >>> bundle["type"]
        'transaction'
    """
    _check_convert_options(bundle_type, terminology, id_system, name)
    if isinstance(case, Case):
        model = case
    elif isinstance(case, Mapping):
        model = parse_case(CaseFile(name, dict(case), lines={}))
    else:
        raise InvalidCaseError(
            f"{name}: a case is a dict (the data of a case file) or a Case, not a {type(case).__name__}",
            file=name,
        )
    conversion = build_bundle(
        model,
        terminology or _shipped_terminology(),
        bundle_type=bundle_type,
        strict=strict,
        id_system=id_system,
    )
    for message in conversion.warnings:
        warnings.warn(f"case '{conversion.case_id}': {message}", FhirAdapterWarning, stacklevel=2)
    return conversion.bundle


def _check_convert_options(bundle_type: Any, terminology: Any, id_system: Any, name: Any) -> None:
    if bundle_type not in ("transaction", "collection"):
        raise ConfigError(
            f"bundle_type {printable(repr(bundle_type), 60)}: give 'transaction' or 'collection'"
        )
    if terminology is not None and not isinstance(terminology, Terminology):
        raise ConfigError(
            f"terminology: a Terminology from load_terminology(), not a {type(terminology).__name__}"
        )
    if not isinstance(id_system, str) or not id_system:
        raise ConfigError(
            f"id_system {printable(repr(id_system), 60)}: give the identifier system URI as text"
        )
    if not isinstance(name, str):
        raise ConfigError(f"name: the case's name in messages is text, not a {type(name).__name__}")


def load_case(path: str | PathLike[str]) -> Case:
    """Read, parse and validate one YAML or JSON case file; InvalidCaseError names the file and field."""
    if not isinstance(path, str | PathLike):
        raise ConfigError(f"load_case: give the path of a case file, not a {type(path).__name__}")
    return _load_case(path)


def load_terminology(directory: str | PathLike[str] | None = None) -> Terminology:
    """The shipped terminology maps, with the *.yaml maps of `directory` laid over them if given.

    A directory that does not exist, or a map in it that is broken, raises MappingError.
    """
    if directory is not None and not isinstance(directory, str | PathLike):
        raise ConfigError(
            f"load_terminology: give the path of a directory of maps, not a {type(directory).__name__}"
        )
    return _load_terminology(directory)


def push(
    bundles: Iterable[Mapping[str, Any]],
    server: str,
    *,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_bundle: str | None = None,
    outbox: str | Path = "fhir-adapter-outbox",
    workers: int = 1,
    verify: bool = False,
    allow_public_server: bool = False,
    allow_plain_http_auth: bool = False,
    allow_outbox_symlink: bool = False,
    timeout: float = 120.0,
    max_time: float = 300.0,
) -> list[PushResult]:
    """Send transaction Bundles to a FHIR server through an outbox; one PushResult per bundle.

    A failed send does not raise: its result has status `rejected` or `unavailable` and the
    error, and the bundle waits in `outbox`/pending. Settings that cannot work raise ConfigError.

        >>> results = push([bundle], "http://127.0.0.1:8080/fhir")  # doctest: +SKIP
        >>> [r.status for r in results]  # doctest: +SKIP
        ['sent']
    """
    settings = server_settings(
        server,
        token=token,
        basic_auth=basic_auth,
        ca_bundle=ca_bundle,
        allow_public_server=allow_public_server,
        allow_plain_http_auth=allow_plain_http_auth,
        timeout=timeout,
        max_time=max_time,
    )
    if isinstance(bundles, str | bytes | Mapping) or not isinstance(bundles, Iterable):
        raise ConfigError(
            f"push: bundles is a list (or other iterable) of Bundle dicts, not a {type(bundles).__name__};"
            " put one bundle in a list"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 32:
        raise ConfigError(f"workers {printable(repr(workers), 40)}: give a whole number from 1 to 32")
    if not isinstance(outbox, str | PathLike):
        raise ConfigError(f"outbox: give a directory path, not a {type(outbox).__name__}")

    def items() -> Iterable[Item]:
        for n, bundle in enumerate(bundles):
            if not isinstance(bundle, Mapping):
                raise ConfigError(f"push: bundle {n + 1} is a {type(bundle).__name__}, not a Bundle (a dict)")
            data = dict(bundle)
            yield Item(outbox_key(data, f"bundle-{n + 1}"), f"bundle {n + 1}", data)

    outbox_dir = Outbox(Path(outbox), allow_symlink=allow_outbox_symlink)
    try:
        return list(send_all(FhirClient(settings), outbox_dir, items(), workers=workers, verify=verify))
    except AdapterError:
        raise
    except Exception as exc:  # a last guard: the library's promise is AdapterError, whatever the input
        raise AdapterError(f"push: {type(exc).__name__}: {printable(exc, 300)}") from exc
