"""Checks an image `make images` built, from its OCI archive and by running it.

usage: check.py [--buildah CMD] ARCHIVE IMAGE ENTRYPOINT

- config: a non-root numeric user, ENTRYPOINT [ENTRYPOINT], the OCI labels set;
- filesystem (every layer): exactly one regular file, the entrypoint binary, executable;
  no shell, no libc, no package manager;
- run (buildah, chroot isolation): the binary prints its version as user 65532 in the
  empty root filesystem (so it is static), and /bin/sh does not exist to run.
Prints OK; exits non-zero with the reason otherwise. Standard library only.
"""

import argparse
import json
import shlex
import subprocess
import sys
import tarfile

LABELS = ["title", "description", "source", "licenses", "version", "revision", "created"]


def fail(msg):
    print(f"FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def blob(tar, digest):
    algo, hexd = digest.split(":")
    return tar.extractfile(f"blobs/{algo}/{hexd}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--buildah", default="buildah")
    ap.add_argument("archive")
    ap.add_argument("image")
    ap.add_argument("entrypoint")
    a = ap.parse_args()

    with tarfile.open(a.archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(blob(tar, index["manifests"][0]["digest"]))
        config = json.load(blob(tar, manifest["config"]["digest"]))
        files = {}
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=blob(tar, layer["digest"]), mode="r:*") as lt:
                for m in lt.getmembers():
                    files["/" + m.name.lstrip("./")] = m

    cfg = config.get("config", {})
    user = cfg.get("User", "")
    if not user or user.split(":")[0] in ("", "0", "root") or not user.split(":")[0].isdigit():
        fail(f"user {user!r} is not a numeric non-root user")
    if cfg.get("Entrypoint") != [a.entrypoint]:
        fail(f"entrypoint {cfg.get('Entrypoint')} != [{a.entrypoint!r}]")
    labels = cfg.get("Labels") or {}
    for l in LABELS:
        v = labels.get(f"org.opencontainers.image.{l}", "")
        if not v or v == "unknown":
            fail(f"label org.opencontainers.image.{l} missing or unknown: {v!r}")
    regular = sorted(p for p, m in files.items() if m.isfile())
    if regular != [a.entrypoint]:
        fail(f"regular files {regular} != [{a.entrypoint}]")
    if not files[a.entrypoint].mode & 0o111:
        fail("entrypoint is not executable")
    for shell in ["/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"]:
        if shell in files:
            fail(f"{shell} is in the image")

    buildah = shlex.split(a.buildah)
    ctr = subprocess.run(buildah + ["from", "--quiet", a.image], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        run = buildah + ["run", "--isolation", "chroot", "--user", user, ctr, "--"]
        out = subprocess.run(run + [a.entrypoint, "--version"], capture_output=True, text=True)
        name = a.entrypoint.lstrip("/")
        if out.returncode != 0 or not out.stdout.startswith(name + " "):
            fail(f"{a.entrypoint} --version in the image: rc={out.returncode} {out.stdout!r} {out.stderr!r}")
        sh = subprocess.run(run + ["/bin/sh", "-c", "true"], capture_output=True, text=True)
        if sh.returncode == 0:
            fail("/bin/sh ran inside the image")
    finally:
        subprocess.run(buildah + ["rm", ctr], capture_output=True)
    print(f"OK {a.image}: user {user}, entrypoint {cfg['Entrypoint']}, "
          f"one file ({files[a.entrypoint].size} bytes), {out.stdout.strip()}")


if __name__ == "__main__":
    main()
