"""Each file of a data directory as manifest.json records it (bytes and SHA-256), and the check of a directory
against its record: cxlm-prepare --verify DIR, for instance after copying it to a cluster."""

import hashlib
import json
import os
from typing import Dict, Tuple

from ..data.indexed import check_dataset
from ..errors import UserInputError

MANIFEST = "manifest.json"


def sha256_of(path: str, block: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_records(directory: str) -> Dict[str, dict]:
    """Every file under directory but its own manifest.json (a shard's is recorded by the directory above it):
    relative path -> {"bytes", "sha256"}."""
    records = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory)
            if relative != MANIFEST:
                records[relative] = {"bytes": os.path.getsize(path), "sha256": sha256_of(path)}
    return dict(sorted(records.items()))


def verify(directory: str) -> Tuple[int, int]:
    """directory against its manifest.json: every recorded file present with its size and checksum, and every
    dataset's .idx agreeing with its .bin. Returns (files, bytes); the faults are one line (the first named)."""
    manifest = os.path.join(directory, MANIFEST)
    if not os.path.isfile(manifest):
        raise UserInputError(f"{manifest} is missing: {directory} is not a directory cxlm-prepare wrote")
    try:
        with open(manifest, encoding="utf-8") as f:
            recorded = json.load(f).get("files")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise UserInputError(f"{manifest} is not a cxlm-prepare manifest ({err})") from None
    if not recorded:
        raise UserInputError(f"{manifest} records no files (an older cxlm-prepare wrote it): nothing to verify")
    faults = []
    for relative, record in recorded.items():
        path = os.path.join(directory, relative)
        if not os.path.isfile(path):
            faults.append(f"{path} is missing")
        elif os.path.getsize(path) != record["bytes"]:
            faults.append(f"{path} is {os.path.getsize(path)} bytes, not {record['bytes']}")
        elif sha256_of(path) != record["sha256"]:
            faults.append(f"{path} has another checksum than recorded (same size, other bytes)")
        elif relative.endswith(".idx"):
            try:
                check_dataset(path[: -len(".idx")])
            except UserInputError as err:
                faults.append(str(err))
    if faults:
        more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
        raise UserInputError(f"{faults[0]}{more}: copy {directory} again, or prepare it again")
    return len(recorded), sum(record["bytes"] for record in recorded.values())
