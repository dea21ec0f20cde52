"""The library's promise: every public function raises the AdapterError family, whatever it is given.

Also: the README's library snippet runs as written against a local server, and the public-server
guard holds for every spelling of every known public server's host name. Nothing here reaches the
internet: refused URLs are refused before any connection, others point at 127.0.0.1.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from support.fhir_server import free_port

import fhir_adapter
from fhir_adapter import AdapterError, ConfigError, FhirAdapterWarning
from fhir_adapter.api import PUBLIC_SERVERS, check_server, server_settings

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"case": {"id": "lib-h1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}


@pytest.fixture(scope="module")
def bundle() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FhirAdapterWarning)
        return fhir_adapter.convert_case(SMALL)


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens there


def calls(bundle: dict, tmp: Path) -> dict:
    outbox = str(tmp / "ob")
    fast = {"outbox": outbox, "max_time": 0.3, "timeout": 0.3}
    return {
        "push(['x'])": lambda: fhir_adapter.push(["x"], nowhere(), **fast),
        "push(None)": lambda: fhir_adapter.push(None, nowhere(), **fast),
        "push('x')": lambda: fhir_adapter.push("x", nowhere(), **fast),
        "push(bundle)": lambda: fhir_adapter.push(bundle, nowhere(), **fast),
        "push([1])": lambda: fhir_adapter.push([1], nowhere(), **fast),
        "push(server=None)": lambda: fhir_adapter.push([bundle], None, **fast),
        "push(server=[::1)": lambda: fhir_adapter.push([bundle], "http://[::1", **fast),
        "push(server=port)": lambda: fhir_adapter.push([bundle], "http://127.0.0.1:port/fhir", **fast),
        "push(workers=0)": lambda: fhir_adapter.push([bundle], nowhere(), workers=0, **fast),
        "push(workers='2')": lambda: fhir_adapter.push([bundle], nowhere(), workers="2", **fast),
        "push(timeout='x')": lambda: fhir_adapter.push([bundle], nowhere(), outbox=outbox, timeout="x"),
        "push(max_time=-1)": lambda: fhir_adapter.push([bundle], nowhere(), outbox=outbox, max_time=-1),
        "push(outbox=1)": lambda: fhir_adapter.push([bundle], nowhere(), outbox=1),
        "push(outbox=a file)": lambda: fhir_adapter.push([bundle], nowhere(), **{**fast, "outbox": __file__}),
        "push(token=1)": lambda: fhir_adapter.push([bundle], nowhere(), token=1, **fast),
        "push(basic_auth='x')": lambda: fhir_adapter.push([bundle], nowhere(), basic_auth="x", **fast),
        "push(ca_bundle=missing)": lambda: fhir_adapter.push(
            [bundle], nowhere(), ca_bundle="/no/such.pem", **fast
        ),
        "convert_case(None)": lambda: fhir_adapter.convert_case(None),
        "convert_case(bundle_type='x')": lambda: fhir_adapter.convert_case(SMALL, bundle_type="x"),
        "convert_case(terminology=1)": lambda: fhir_adapter.convert_case(SMALL, terminology=1),
        "convert_case(id_system=1)": lambda: fhir_adapter.convert_case(SMALL, id_system=1),
        "convert_case(name=None)": lambda: fhir_adapter.convert_case(SMALL, name=None),
        "load_case(None)": lambda: fhir_adapter.load_case(None),
        "load_case(1)": lambda: fhir_adapter.load_case(1),
        "load_case(missing)": lambda: fhir_adapter.load_case(tmp / "missing.yaml"),
        "load_terminology(1)": lambda: fhir_adapter.load_terminology(1),
        "load_terminology(missing)": lambda: fhir_adapter.load_terminology(tmp / "my-maps"),
    }


def test_every_public_function_raises_the_adapter_error_family(bundle, tmp_path):
    escaped = {}
    for name, call in calls(bundle, tmp_path).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FhirAdapterWarning)
                call()
        except AdapterError as exc:
            assert str(exc) and exc.exit_code > 1, name
            continue
        except Exception as exc:  # the defect this test exists for
            escaped[name] = f"{type(exc).__name__}: {exc}"
            continue
        escaped[name] = "returned instead of raising"
    assert escaped == {}


def test_push_of_a_non_dict_bundle_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"push: bundle 1 is a str, not a Bundle \(a dict\)"):
        fhir_adapter.push(["x"], nowhere(), outbox=tmp_path / "ob")


def test_push_of_malformed_bundles_reports_each_as_invalid(bundle, tmp_path):
    bad = [
        {"resourceType": "Bundle", "type": "transaction", "identifier": "x", "entry": [1]},
        {"resourceType": "Bundle", "type": "transaction", "entry": "nope"},
        {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": "x"}]},
    ]
    results = fhir_adapter.push(bad, nowhere(), outbox=tmp_path / "ob", max_time=0.3)
    assert [r.status for r in results] == ["invalid"] * 3
    assert [str(r.error).split(": ", 1)[1] for r in results] == [
        "entry 1 of the Bundle holds no resource",
        "the Bundle has no list of entries",
        "entry 1 of the Bundle holds no resource",
    ]


@pytest.mark.filterwarnings("ignore::fhir_adapter.FhirAdapterWarning")
def test_the_readme_library_snippet_runs_as_written(fhir_server, tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using it as a library", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "http://127.0.0.1:8090/fhir" in code
    code = code.replace("http://127.0.0.1:8090/fhir", fhir_server.base_url)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)  # the snippet's relative paths, as a user runs it from a checkout
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == "[('reg-0042', 'sent')]"


# ---- the public-server guard ----


def spellings(host: str) -> list[str]:
    """Ways of writing a host that all reach it (or that one of the URL parsers reads as it)."""
    first, _, rest = host.partition(".")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in host)
    return [
        f"https://{host}/baseR4",
        f"https://{host}./baseR4",
        f"https://{host}../baseR4",
        f"https://{host.upper()}/baseR4",
        f"https://{host.replace('.', '%2e')}/baseR4",
        f"https://{host.replace('.', '%2E')}/baseR4",
        f"https://{first}%2E{rest}./r4",
        f"https://%{ord(host[0]):02x}{host[1:]}/r4",
        f"https://{host.replace('.', '。')}/r4",
        f"https://{fullwidth}/r4",
        f"https://{host}:443/baseR4",
        f"http://{host}:8080/fhir",
        f"https://user@{host}/baseR4",
        f"https://sub.{host}/fhir",
        f"https://{host}\\@127.0.0.1/fhir",
    ]


@pytest.mark.parametrize("public", PUBLIC_SERVERS)
def test_the_public_server_guard_holds_for_every_spelling(public):
    for url in spellings(public):
        with pytest.raises(ConfigError, match="is a public test server"):
            check_server(url)
    check_server(f"https://{public}/baseR4", allow_public_server=True)  # with consent it is accepted


@pytest.mark.parametrize(
    "url",
    ["https://hapi.fhir.org.example.com/r4", "https://nothapi.fhir.org.evil/r4", "http://127.0.0.1:8080/fhir",
     "http://localhost./fhir", "https://fhir.example.org/r4"],
)  # fmt: skip
def test_other_hosts_pass_the_guard(url):
    check_server(url)


def test_plain_http_credentials_rule():
    with pytest.raises(ConfigError, match="over plain http to fhir.example.org"):
        server_settings("http://fhir.example.org/r4", token="t")
    with pytest.raises(ConfigError, match="over plain http"):
        server_settings("http://user:pw@fhir.example.org/r4")
    settings = server_settings("http://fhir.example.org/r4", token="t", allow_plain_http_auth=True)
    assert settings.token == "t"
    for local in (
        "http://127.0.0.1:8080/fhir",
        "http://localhost/fhir",
        "http://[::1]:8080/fhir",
        "http://127.8.9.1/",
    ):
        server_settings(local, basic_auth=("u", "p"))
    assert server_settings("https://fhir.example.org/r4", token="t").base_url == "https://fhir.example.org/r4"
    settings = server_settings("https://u%3Ax:p%40w@fhir.example.org/r4")
    assert (settings.base_url, settings.basic_auth) == ("https://fhir.example.org/r4", ("u:x", "p@w"))
