"""Resumable downloads that check what they got.

A download goes to DEST.part and is renamed to DEST only once complete and verified. Run again after an
interruption and it continues where it stopped: with an HTTP Range request, or, where the server (or a
file:// URL) ignores ranges, by skipping the bytes it already has. The size is checked against what the
server announced (or what the source publishes), and an MD5/SHA-256 checksum when the source publishes one.
"""

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from typing import Optional

from tqdm import tqdm

from ..errors import UserInputError

CHUNK = 1 << 20


class DownloadError(UserInputError):
    pass


def _digest(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str, size: Optional[int] = None, md5: Optional[str] = None, sha256: Optional[str] = None):
    """Raise DownloadError (and remove the file) when it is not what the source says it is."""
    problems = []
    if size is not None and os.path.getsize(path) != size:
        problems.append(f"{os.path.getsize(path)} bytes instead of {size}")
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected and _digest(path, algorithm) != expected.lower():
            problems.append(f"{algorithm} differs from the published {expected}")
    if problems:
        os.remove(path)
        raise DownloadError(f"{path}: {'; '.join(problems)}; removed it, run again to download it afresh")


def fetch(
    url: str, dest: str, size: Optional[int] = None, md5: Optional[str] = None, sha256: Optional[str] = None
) -> str:
    """Download url to dest (resuming DEST.part), verify it, and return dest. A verified dest is kept."""
    if os.path.exists(dest):
        return dest
    # Not atomic.atomic_path, which removes its temporary file on failure: an interrupted download's DEST.part
    # must survive so that the next run resumes it (verify removes it when it is wrong).
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    part = dest + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the part is already whole
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: {getattr(err, 'reason', err)}") from None
    if response is not None:
        with response:
            resumed = getattr(response, "status", None) == 206
            length = response.headers.get("Content-Length")
            announced = int(length) + (have if resumed else 0) if length is not None else None
            if size is None:
                size = announced
            skip = 0 if resumed else have  # the server sent everything again: skip what we have
            with (
                open(part, "ab") as out,
                tqdm(
                    total=size, initial=have, unit="B", unit_scale=True, desc=os.path.basename(dest), mininterval=2
                ) as bar,
            ):
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    if skip:
                        dropped = min(skip, len(block))
                        block, skip = block[dropped:], skip - dropped
                    out.write(block)
                    bar.update(len(block))
    verify(part, size=size, md5=md5, sha256=sha256)
    os.replace(part, dest)
    return dest


def unzip(archive: str, out_dir: str, members=None):
    """Extract (some of) a zip archive into out_dir, refusing paths that leave it."""
    root = os.path.abspath(out_dir)
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            if members is not None and info.filename not in members:
                continue
            target = os.path.abspath(os.path.join(root, info.filename))
            if not target.startswith(root + os.sep):
                raise DownloadError(f"{archive}: member {info.filename!r} would be written outside {out_dir}")
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def untar(archive: str, out_dir: str):
    """Extract a tar archive (any compression) into out_dir: regular files and directories only, none outside it."""
    root = os.path.abspath(out_dir)
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                target = os.path.abspath(os.path.join(root, member.name))
                if not target.startswith(root + os.sep) or not (member.isfile() or member.isdir()):
                    raise DownloadError(f"{archive}: member {member.name!r} is not a file or folder inside {out_dir}")
            tar.extractall(root, filter="data")
    except tarfile.TarError as err:
        raise DownloadError(f"{archive}: not a readable tar archive ({err}); remove it and run again") from None
