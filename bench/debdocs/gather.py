"""Gather the debdocs check set's documents from this machine's /usr/share/doc.

    python bench/debdocs/gather.py DIR
    python bench/quality.py --add debdocs=bench/debdocs/questions.jsonl:DIR

36 questions (fact, multi, followup, refuse) written on 17 files of Debian packages' documentation
before the code was changed for them (the fifth session's "held3", which it was then tuned on): a
check set of the project's own, not a held-out one. The files are taken from the machine, not
committed; each is checked against the sha256 the questions were written on, and a file that is
missing or differs is named and left out (its questions then fail, which says so).
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

DOC = Path("/usr/share/doc")
# name in the set → (path under /usr/share/doc, how much of it: lines, 0 for all; sha256 of the result)
FILES = {
    "base-passwd-README": ("base-passwd/README", 0, "a1578a2b544335e57829f05c877b6bdbfd109935d12f530535c36513c857f0c3"),
    "coreutils-README": ("coreutils/README.gz", 0, "0a0de85d2ef35f7183319751251813a059516e657e0602012d0a3af58106f356"),
    "coreutils-copyright": ("coreutils/copyright", 0, "24e86c5ca53d6bfd8e0c47988160daa62d10a74997fe11f651e1d9533c78bff6"),
    "dbus-NEWS": ("dbus-daemon/NEWS.gz", 250, "f6fa75f6ed29ba06ee0533e7f4044d758dc9f9b744bacee1736ecd52d9d8d355"),
    "dpkg-protected-field.txt": ("dpkg/spec/protected-field.txt", 0, "c5f638c8cede2caf2d99f1f4fa233391372eb4fa42205ddae85eaf706c16cd1f"),
    "glib-README.md": ("libglib2.0-0/README.md", 0, "b092fc2e75df676e70758194981d4b9875a53f8651422da81322be55af28bef0"),
    "libdbus-1-3-copyright": ("libdbus-1-3/copyright", 0, "4cfc9f33368f3b95429992704c96fa598818ec796046426a9979ce4d9b8b1900"),
    "libffi-memory-usage.html": ("libffi8/html/Memory-Usage.html", 0, "2991f3ba261dcb4d87482e6972c31936cdd28be98a572906bd6593c0de5943e2"),
    "libffi-thread-safety.html": ("libffi8/html/Thread-Safety.html", 0, "7c2588743019172591487355b866acaed968048f9590d3299cbec50f7b4ff787"),
    "libtasn1-6-copyright": ("libtasn1-6/copyright", 0, "572ad60ad184d8f52c6dc66d83a61a68f137db560b3452ce00588c9ecf128a65"),
    "libtasn1.pdf": ("libtasn1-doc/libtasn1.pdf", 0, "3917eb460d87e275f9792b3597029873fd77890ed3ccebe40bbc5a3a7ee516d3"),
    "man-db-FAQ": ("man-db/FAQ", 0, "04af86878a6105c26667680bc6f621fe9eba9162bb5e4c8f8c456275274ca96d"),
    "man-db-copyright": ("man-db/copyright", 0, "eacb5c74c7b088d752c33f238470bf4909d42b8754c209cbb0cd5b8c9b6999cb"),
    "procps-bugs.md": ("procps/bugs.md", 0, "01c2558f362cfc7b7ec12fafcaa9f3b874aae1340a7944a1b239a5d83a642af3"),
    "procps-copyright": ("procps/copyright", 0, "90a66617c36d83068b52bbb77cbfef1234f526bfa287156d9d05f7df4d339539"),
    "yq-cli-doc.txt": ("yq/cli-doc.txt", 0, "b4925575b27c8842f399978e1a7e8bb7375909464ad9919c0d8479081a6f8166"),
    "yq-copyright": ("yq/copyright", 0, "50ba209273788ad3de8e6d93794ae110262e5b8c4d3ffd934be59ad8d805c489"),
}


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, (path, lines, sha256) in FILES.items():
        source = DOC / path
        if not source.is_file():
            missing.append(f"{name}: {source} is not on this machine")
            continue
        data = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else source.read_bytes()
        if lines:
            data = b"".join(data.splitlines(keepends=True)[:lines])
        if hashlib.sha256(data).hexdigest() != sha256:
            missing.append(f"{name}: {source} differs from the file the questions were written on")
            continue
        (out / name).write_bytes(data)
    for line in missing:
        print(line, file=sys.stderr)
    print(f"{len(FILES) - len(missing)} of {len(FILES)} files in {out}")


if __name__ == "__main__":
    main()
