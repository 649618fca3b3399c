"""GraphiQL's third-party assets: pinned npm packages, fetched and checked at build time.

Standard library only: the hatch build hook (``hatch_build.py``) loads this
file by path inside pip's isolated build environment. Each package tarball
is checked against the registry's ``sha512`` integrity pinned below, and
each file taken from it against its own pinned ``sha384`` (the same hash the
page's ``<script integrity>`` carries), so a changed registry, tarball or
file stops the build instead of shipping something unreviewed.

Run by hand (e.g. in a development checkout installed before the assets
existed)::

    python -m gateway.graphiql.assets            # into gateway/graphiql/static/
    python -m gateway.graphiql.assets --check    # verify what is there, fetch nothing

To move to a new version: change the pins (``npm view graphiql@X
dist.integrity``; ``openssl dgst -sha384 -binary FILE | base64``) and check
the page in a browser (tests/graphiql/test_graphiql_browser.py).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Asset:
    """One file served to the browser, taken from an npm package tarball."""

    name: str  # as served: /graphiql/<name>
    member: str  # path inside the tarball
    sha384: str  # base64, as in an SRI ``integrity`` attribute


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity (sha512, base64)
    assets: tuple[Asset, ...]

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.rpartition('/')[2]}-{self.version}.tgz"


# GraphiQL 3 is the last major with a self-contained UMD bundle (it includes
# graphql-js, CodeMirror and its fonts as data: URIs); it needs React 18's UMD builds.
PACKAGES: tuple[Package, ...] = (
    Package(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        (
            Asset(
                "react.production.min.js",
                "package/umd/react.production.min.js",
                "DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
            ),
            Asset("react.LICENSE", "package/LICENSE", "dIN5gxuW3odCH42AKpxql36fRQlrVsjCi4EJgGC2Ty8Ihkcq9cdrChEZpKhSAfks"),
        ),
    ),
    Package(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        (
            Asset(
                "react-dom.production.min.js",
                "package/umd/react-dom.production.min.js",
                "gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
            ),
        ),
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        (
            Asset(
                "graphiql.min.js",
                "package/graphiql.min.js",
                "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
            ),
            Asset(
                "graphiql.min.css",
                "package/graphiql.min.css",
                "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
            ),
            Asset("graphiql.LICENSE", "package/LICENSE", "9JPX1agGTIUB7wtQt2kO3PUO7clmCJp+9e50VMjw1yd8briI77AZnMDBz5VcerBH"),
        ),
    ),
)

DEFAULT_DEST = Path(__file__).resolve().parent / "static"


class AssetError(Exception):
    """An asset could not be fetched, or does not match its pinned hash."""


def sri(data: bytes, algorithm: str) -> str:
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def missing(dest: Path = DEFAULT_DEST) -> list[str]:
    """The assets absent from ``dest`` or different from their pins (empty: all good)."""
    bad = []
    for package in PACKAGES:
        for asset in package.assets:
            path = dest / asset.name
            if not path.is_file() or sri(path.read_bytes(), "sha384") != asset.sha384:
                bad.append(asset.name)
    if not (dest / MANIFEST).is_file():
        bad.append(MANIFEST)
    return bad


def fetch(dest: Path = DEFAULT_DEST, *, timeout: float = 60.0) -> list[str]:
    """Make ``dest`` hold every pinned asset and the manifest; return the names written."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for package in PACKAGES:
        if all((dest / a.name).is_file() and sri((dest / a.name).read_bytes(), "sha384") == a.sha384
               for a in package.assets):
            continue
        tarball = _download(package.tarball, timeout)
        algorithm, _, expected = package.integrity.partition("-")
        if sri(tarball, algorithm) != expected:
            raise AssetError(f"{package.name}@{package.version}: the tarball does not match its pinned integrity")
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for asset in package.assets:
                member = archive.extractfile(asset.member)
                if member is None:
                    raise AssetError(f"{package.name}@{package.version}: no {asset.member} in the tarball")
                data = member.read()
                if sri(data, "sha384") != asset.sha384:
                    raise AssetError(f"{package.name}@{package.version}: {asset.member} does not match its pin")
                (dest / asset.name).write_bytes(data)
                written.append(asset.name)
    manifest = {
        asset.name: {"integrity": f"sha384-{asset.sha384}", "package": f"{package.name}@{package.version}"}
        for package in PACKAGES
        for asset in package.assets
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return written


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a pinned https URL
            data: bytes = response.read()
            return data
    except OSError as exc:
        raise AssetError(f"could not download {url}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.graphiql.assets", description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where to put the assets")
    parser.add_argument("--check", action="store_true", help="verify the assets there; fetch nothing")
    args = parser.parse_args(argv)
    if args.check:
        bad = missing(args.dest)
        print("GraphiQL assets: " + (f"missing or changed: {', '.join(bad)}" if bad else "all present and pinned"))
        return 1 if bad else 0
    try:
        written = fetch(args.dest)
    except AssetError as exc:
        print(f"GraphiQL assets: {exc}", file=sys.stderr)
        return 1
    print(f"GraphiQL assets: {len(written)} fetched, all pinned ({args.dest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
