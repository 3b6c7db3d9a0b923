"""Regression suite of the security and fault review's attacks, on small inputs: the ones that
broke (now fixed) and the ones that held. Each must stay as it is."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from citebot.intake import safe_filename, save_new_file
from tests.conftest import make_engine
from tests.documents import make_docx

GOOD = "# Pumps\n\nThe east pump moves 40 litres a minute.\n"


def _docx_with_body(path: Path, document_xml: bytes) -> None:
    """A real DOCX whose word/document.xml is replaced by `document_xml`."""
    make_docx(path, ["placeholder"])
    with zipfile.ZipFile(path) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    parts["word/document.xml"] = document_xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b"]><w:document " + W + b"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><w:document ' + W
       + b"><w:body><w:p><w:r><w:t>secret: &xxe;</w:t></w:r></w:p></w:body></w:document>")


def test_hostile_documents_are_skipped_one_by_one_and_the_rest_indexed(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text(GOOD)
    _docx_with_body(docs / "malformed.docx", b"<w:document " + W + b"><w:body><w:p>unclosed")
    _docx_with_body(docs / "laughs.docx", LAUGHS)
    _docx_with_body(docs / "xxe.docx", XXE)
    (docs / "noise.md").write_bytes(bytes(b for b in os.urandom(20_000) if b))  # binary, no NUL
    (docs / "anchors.html").write_text("<a " * 40_000)  # was quadratic: 118 s
    engine = make_engine(tmp_path / "data", docs)
    report = engine.reindex()
    skipped = {os.path.basename(path): reason for path, reason in report.skipped}
    assert {"malformed.docx", "laughs.docx", "noise.md"} <= set(skipped)
    assert "good.md" in report.added
    texts = "".join(engine._text_of(entry).text for entry in engine.store.load_manifest().files.values())
    assert "root:" not in texts and "lollollol" not in texts  # no file read, no entity expanded


@pytest.mark.parametrize("raw", [
    "/etc/passwd", "../../../../tmp/x.md", "C:\\Windows\\x.md", "a\x00b.md", "\u202eevil\u202cfdp.md",
    "zero\u200bwidth.md", "\U0001d400" * 100 + ".md", "", ".", "..", "...md",
])
def test_upload_names_stay_in_the_folder_and_fit_the_file_system(tmp_path, raw):
    folder = tmp_path / "sources"
    saved = save_new_file(folder, raw, GOOD.encode())
    assert saved.parent == folder and saved.read_text() == GOOD
    assert saved.name == safe_filename(raw) and not saved.name.startswith(".")
    assert len(saved.name.encode()) <= 200 and "\x00" not in saved.name and "\u202e" not in saved.name
    assert not list(folder.glob(".upload-*"))  # no staging file left behind
