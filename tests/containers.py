"""Container tooling for the image tests: buildah builds, dockerd runs, a stand-in base.

Base images cannot be pulled here, so the stand-in for `python:X.Y-slim-bookworm` is
built locally once (a Debian rootfs from debootstrap plus pyenv's CPython in /usr/local)
and kept in buildah's and docker's stores between runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

# Set by .ci/run: in CI a missing engine fails the image tests instead of skipping them.
REQUIRE_VARIABLE = "TEMPLATE_REQUIRE_CONTAINERS"
CACHE_DIR = Path(os.environ.get("TEMPLATE_CONTAINER_CACHE", "/var/cache/fastapi-service-template"))
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What the official slim image carries besides Python's own files.
RUNTIME_PACKAGES = (
    "ca-certificates,netbase,tzdata,libsqlite3-0,libssl3,libffi8,libbz2-1.0,liblzma5,"
    "zlib1g,libreadline8,libncursesw6,libuuid1,libgdbm6,libexpat1"
)
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DOCKERD_ARGS = ("--iptables=false", "--ip6tables=false", "--bridge=none")


class EngineUnavailableError(RuntimeError):
    """No container engine can run here; the message says what is missing."""


def tool(name: str, *, candidates: Sequence[str] = ()) -> str:
    """The path of an executable, from PATH or the given absolute candidates."""
    found = shutil.which(name) or next((c for c in candidates if Path(c).exists()), None)
    if found is None:
        msg = f"`{name}` is not installed (Debian packages docker.io, buildah, debootstrap)"
        raise EngineUnavailableError(msg)
    return found


def command(args: Sequence[str], *, timeout: float = 600, check: bool = True) -> str:
    """Run a command and return its stdout; a failure raises with its output."""
    result = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        msg = f"`{' '.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        raise RuntimeError(msg)
    return result.stdout


@contextmanager
def locked(name: str) -> Iterator[None]:
    """An exclusive lock shared by every pytest-xdist worker and every run on this machine."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def docker() -> str:
    return tool("docker")


def buildah() -> str:
    return tool("buildah")


def ensure_dockerd(timeout: float = 60) -> None:
    """Start dockerd (without iptables or a bridge: containers use the host network)."""
    if subprocess.run([docker(), "info"], capture_output=True, check=False).returncode == 0:
        return
    if os.geteuid() != 0:
        msg = "no Docker engine answers and starting dockerd needs root"
        raise EngineUnavailableError(msg)
    dockerd = tool("dockerd", candidates=("/usr/sbin/dockerd", "/usr/bin/dockerd"))
    with locked("dockerd"):
        if subprocess.run([docker(), "info"], capture_output=True, check=False).returncode != 0:
            # `setsid --fork` detaches the daemon: it outlives the test session, and no
            # Popen object of ours is left to warn about a child still running.
            with (CACHE_DIR / "dockerd.log").open("a") as log:
                subprocess.run(
                    [tool("setsid"), "--fork", dockerd, *DOCKERD_ARGS],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    check=True,
                )
        deadline = time.monotonic() + timeout
        while subprocess.run([docker(), "info"], capture_output=True, check=False).returncode:
            if time.monotonic() > deadline:
                msg = f"dockerd did not answer within {timeout:.0f} s; see {CACHE_DIR / 'dockerd.log'}"
                raise EngineUnavailableError(msg)
            time.sleep(0.5)


def engine_or_skip() -> None:
    """Make sure buildah and dockerd work, or skip (fail when REQUIRE_VARIABLE is set)."""
    try:
        buildah()
        ensure_dockerd()
    except EngineUnavailableError as error:
        if os.environ.get(REQUIRE_VARIABLE):
            pytest.fail(f"{REQUIRE_VARIABLE} is set and no container engine can run: {error}")
        pytest.skip(f"no container engine can run here: {error}")


def image_exists(reference: str) -> bool:
    buildah_has = command([buildah(), "inspect", "--type", "image", reference], check=False)
    docker_has = command([docker(), "image", "inspect", reference], check=False)
    return bool(buildah_has.strip()) and docker_has.strip() not in ("", "[]")


def pyenv_python(version: str) -> Path:
    """The installation prefix of pyenv's newest CPython `version` (e.g. 3.12 -> .../3.12.1)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    matches = sorted(
        (path for path in root.glob(f"{version}.*") if path.name.count(".") == 2),
        key=lambda path: tuple(int(part) for part in path.name.split(".")),
    )
    if not matches:
        msg = f"pyenv has no CPython {version} under {root} for the stand-in base image"
        raise EngineUnavailableError(msg)
    return matches[-1]


def standin_base(python_version: str) -> str:
    """The stand-in for python:<version>-slim-bookworm, built once per machine."""
    reference = f"localhost/python-standin:{python_version}-slim-{DEBIAN_SUITE}"
    with locked("standin-base"):
        if not image_exists(reference):
            build_standin_base(python_version, reference)
    return reference


def build_standin_base(python_version: str, reference: str) -> None:
    prefix = pyenv_python(python_version)
    rootfs = CACHE_DIR / f"rootfs-{python_version}"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    debootstrap = tool("debootstrap", candidates=("/usr/sbin/debootstrap",))
    options = ["--variant=minbase", f"--include={RUNTIME_PACKAGES}"]
    command([debootstrap, *options, DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR], timeout=900)
    python_dir = f"lib/python{python_version}"
    copy = subprocess.run(
        [
            "tar",
            "-C",
            str(prefix),
            f"--exclude=./{python_dir}/test",
            f"--exclude=./{python_dir}/site-packages/*",
            "--exclude=*/__pycache__",
            "-cf",
            "-",
            ".",
        ],
        capture_output=True,
        check=True,
    )
    subprocess.run(
        ["tar", "-C", str(rootfs / "usr/local"), "-xf", "-"], input=copy.stdout, check=True
    )
    # The registries are reached through a proxy whose CA only the system bundle holds.
    shutil.copyfile(SYSTEM_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    command(["chroot", str(rootfs), "/sbin/ldconfig"])
    command(["chroot", str(rootfs), "/usr/local/bin/python3", "-m", "ensurepip", "--default-pip"])
    for leftovers in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
    ):
        for path in (rootfs / leftovers).glob("*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    container = command([buildah(), "from", "scratch"]).strip()
    try:
        command([buildah(), "copy", "--quiet", container, str(rootfs), "/"])
        command(
            [
                buildah(),
                "config",
                "--env",
                "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--env",
                f"SSL_CERT_FILE={SYSTEM_CA_BUNDLE}",
                "--env",
                f"PIP_CERT={SYSTEM_CA_BUNDLE}",
                "--cmd",
                "python3",
                container,
            ]
        )
        command([buildah(), "commit", "--quiet", "--format", "docker", container, reference])
    finally:
        command([buildah(), "rm", container], check=False)
    command([buildah(), "push", "--quiet", reference, f"docker-daemon:{reference}"])
    shutil.rmtree(rootfs)


def build_image(project: Path, reference: str, base: str, *, layers: bool = True) -> None:
    """Build the project's Dockerfile with buildah (BuildKit syntax) and hand it to docker."""
    command(
        [
            buildah(),
            "bud",
            "--quiet",
            "--format",
            "docker",
            "--network",
            "host",
            "--isolation",
            "chroot",
            "--pull=never",
            f"--layers={'true' if layers else 'false'}",
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            "--build-arg",
            "VERSION=0.1.0",
            "--build-arg",
            "REVISION=0123456789abcdef",
            "--build-arg",
            "SOURCE=https://example.com/orders-service",
            "--tag",
            reference,
            str(project),
        ],
        timeout=1200,
    )
    command([buildah(), "push", "--quiet", reference, f"docker-daemon:{reference}"])


def image_size(reference: str) -> int:
    return int(command([docker(), "image", "inspect", "--format", "{{.Size}}", reference]))
