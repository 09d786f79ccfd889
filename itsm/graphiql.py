"""GraphiQL served by the API itself, so that it works on a machine without internet.

The page (`graphiql.html`, `graphiql.js` beside this file) loads only files the API serves under
`/graphiql/`: GraphiQL, React and the explorer plugin, at the exact versions pinned here, taken
from the npm registry by `scripts/setup` (`python -m itsm.graphiql`) with `npm pack`, checked
against the pinned tarball digests, and kept in the git-ignored `itsm/static/graphiql/`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
DEFAULT_ASSET_DIR = HERE / "static" / "graphiql"
STAMP = "versions.json"
FETCH_COMMAND = "scripts/setup (or: python -m itsm.graphiql)"

# The page's own script is a file, not inline, so that the page can forbid inline scripts.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's sha512 of the tarball, as package-lock.json writes it
    files: dict[str, str]  # the name it is served under → its path inside the tarball

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


# The set and versions Strawberry's own GraphiQL page uses, less js-cookie (no CSRF cookie here).
PACKAGES = (
    Package(
        "react",
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        {"react.production.min.js": "umd/react.production.min.js"},
    ),
    Package(
        "react-dom",
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        {"react-dom.production.min.js": "umd/react-dom.production.min.js"},
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"},
    ),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
        {"plugin-explorer.umd.js": "dist/index.umd.js", "plugin-explorer.css": "dist/style.css"},
    ),
)
VENDORED = {name for package in PACKAGES for name in package.files}
OWN = {"graphiql.js": HERE / "graphiql.js"}


def _pins() -> dict[str, str]:
    return {package.name: package.version for package in PACKAGES}


def missing(asset_dir: Path) -> list[str]:
    """The pinned files not (or not at the pinned versions) in `asset_dir`."""
    try:
        stamped = json.loads((asset_dir / STAMP).read_text())
    except (OSError, ValueError):
        stamped = None
    if stamped != _pins():
        return sorted(VENDORED)
    return sorted(name for name in VENDORED if not (asset_dir / name).is_file())


def fetch(asset_dir: Path = DEFAULT_ASSET_DIR) -> bool:
    """Put the pinned files into `asset_dir`; False when they were there already."""
    if not missing(asset_dir):
        return False
    asset_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="itsm-graphiql-") as tmp:
        for package in PACKAGES:
            tarball = _pack(package, Path(tmp))
            with tarfile.open(tarball) as archive:
                for served, inner in package.files.items():
                    member = archive.extractfile(f"package/{inner}")
                    if member is None:
                        raise RuntimeError(f"{package.spec} has no file {inner}")
                    (asset_dir / served).write_bytes(member.read())
    (asset_dir / STAMP).write_text(json.dumps(_pins(), indent=2) + "\n")
    return True


def _pack(package: Package, into: Path) -> Path:
    # `npm pack` rather than `npm install`: the UMD bundles are self-contained, and installing
    # would bring in their whole dependency trees (hundreds of packages) to use four tarballs.
    try:
        done = subprocess.run(
            ["npm", "pack", "--json", "--pack-destination", str(into), package.spec],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    except FileNotFoundError as exc:
        raise RuntimeError("npm is not installed: GraphiQL's files come from npm") from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"npm pack {package.spec} failed: {exc.stderr.strip()}") from exc
    tarball = into / str(json.loads(done.stdout)[0]["filename"])
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != package.integrity:
        raise RuntimeError(
            f"{package.spec}: the registry's tarball is {digest}, pinned is {package.integrity}"
        )
    return tarball


def page(asset_dir: Path) -> Response:
    absent = missing(asset_dir)
    if absent:
        return HTMLResponse(
            "<!doctype html><title>GraphiQL is not installed</title>"
            f"<h1>GraphiQL is not installed</h1><p>Its files ({', '.join(absent)}) are missing "
            f"from {asset_dir}. Run <code>{FETCH_COMMAND}</code>, which takes them from the npm "
            "registry. The API itself works without them.</p>",
            status_code=503,
        )
    return HTMLResponse(
        (HERE / "graphiql.html").read_text(encoding="utf-8"),
        headers={"content-security-policy": CONTENT_SECURITY_POLICY},
    )


def routes(asset_dir: Path) -> list[Route]:
    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        path = OWN.get(name) or (asset_dir / name if name in VENDORED else None)
        if path is None or not path.is_file():
            raise HTTPException(404)  # answered like any unknown path
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"cache-control": "no-cache"})

    return [Route("/graphiql/{name}", asset)]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ASSET_DIR
    try:
        fetched = fetch(target)
    except RuntimeError as exc:
        sys.exit(f"GraphiQL's files could not be fetched: {exc}")
    print(f"GraphiQL files {'fetched into' if fetched else 'already in'} {target}")
