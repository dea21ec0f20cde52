"""The library API: a case (a dict or a Case) to a Bundle dict, and bundles to a FHIR server."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .bundle import BundleType, build_bundle
from .case import Case
from .casefile import CaseFile, parse_case
from .client import ClientSettings, FhirClient, RetryPolicy
from .errors import ConfigError, InvalidCaseError
from .mapping.common import DEFAULT_ID_SYSTEM
from .push import Item, Outbox, PushResult, outbox_key, send_all
from .terminology import Terminology, load_terminology

# Public test servers: anything posted there can be read by anyone on the internet.
PUBLIC_SERVERS = ("hapi.fhir.org", "server.fire.ly", "r4.smarthealthit.org", "launch.smarthealthit.org")


class FhirAdapterWarning(UserWarning):
    """A term kept as text, or another fact fhir-adapter could not code, while converting a case."""


def check_server(url: str, allow_public_server: bool = False) -> None:
    """Refuse a base URL that is not http(s), or a public test server without explicit consent."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"--server {url}: not an http(s) URL; give the FHIR base, e.g. http://127.0.0.1:8080/fhir"
        )
    host = (parsed.hostname or "").lower()
    if any(host == p or host.endswith("." + p) for p in PUBLIC_SERVERS) and not allow_public_server:
        raise ConfigError(
            f"{url} is a public test server: anything posted there can be read by anyone."
            " Case data, even de-identified, should not go there by accident. Pass"
            " --allow-public-server to post anyway, or --server URL for your own server"
        )


def server_settings(
    server: str,
    *,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_bundle: str | None = None,
    allow_public_server: bool = False,
    timeout: float = 120.0,
    max_time: float = 300.0,
) -> ClientSettings:
    """Frozen client settings for a server, after check_server; TLS is always verified."""
    check_server(server, allow_public_server)
    return ClientSettings(
        base_url=server,
        token=token,
        basic_auth=basic_auth,
        verify=ca_bundle or True,
        read_timeout=timeout,
        retry=RetryPolicy(total_timeout=max_time),
    )


@lru_cache(maxsize=1)
def _shipped_terminology() -> Terminology:
    return load_terminology()


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
        timeout=timeout,
        max_time=max_time,
    )
    items = (
        Item(outbox_key(dict(bundle), f"bundle-{n + 1}"), f"bundle {n + 1}", dict(bundle))
        for n, bundle in enumerate(bundles)
    )
    return list(send_all(FhirClient(settings), Outbox(Path(outbox)), items, workers=workers, verify=verify))
