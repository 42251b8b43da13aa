"""cxlm-download against local file:// URLs laid out as the real servers are (no network here)."""

import bz2
import hashlib
import os
import zipfile

import pytest

from fairseq_contrastive_xlm.cli import download
from fairseq_contrastive_xlm.prepare.download import DownloadError, fetch

SHARED_TATOEBA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data", "tatoeba"
)


@pytest.fixture
def source(tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one read block
    path = tmp_path / "server" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(data)
    return path, data


def test_fetch_downloads_and_verifies(source, tmp_path):
    path, data = source
    dest = str(tmp_path / "got" / "file.bin")
    fetch(path.as_uri(), dest, md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest())
    assert open(dest, "rb").read() == data and not os.path.exists(dest + ".part")
    path.unlink()
    assert fetch(path.as_uri(), dest) == dest  # a finished file is kept; nothing is fetched again


def test_fetch_resumes_an_interrupted_download(source, tmp_path):
    path, data = source
    dest = str(tmp_path / "file.bin")
    with open(dest + ".part", "wb") as part:  # what an interrupted first run leaves
        part.write(data[:700_000])
    fetch(path.as_uri(), dest, size=len(data), md5=hashlib.md5(data).hexdigest())
    assert open(dest, "rb").read() == data


def test_a_corrupt_partial_download_is_caught_and_removed(source, tmp_path):
    path, data = source
    dest = str(tmp_path / "file.bin")
    with open(dest + ".part", "wb") as part:
        part.write(b"\0" * 1000)
    with pytest.raises(DownloadError, match=r"md5 differs from the published .*run again to download it afresh"):
        fetch(path.as_uri(), dest, md5=hashlib.md5(data).hexdigest())
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")
    fetch(path.as_uri(), dest, md5=hashlib.md5(data).hexdigest())  # the next run starts afresh
    assert open(dest, "rb").read() == data


def test_a_wrong_size_is_caught(source, tmp_path):
    path, data = source
    with pytest.raises(DownloadError, match=f"{len(data)} bytes instead of {len(data) + 1}"):
        fetch(path.as_uri(), str(tmp_path / "f"), size=len(data) + 1)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="nothing.bin"):
        fetch((tmp_path / "nothing.bin").as_uri(), str(tmp_path / "x"))


PAGES = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
<page><title>Ein Artikel</title><ns>0</ns><revision><text>'''Ein Artikel''' ist ein [[Text|Beitrag]] über etwas.{{Infobox|x=1}}
== Geschichte ==
* Die Geschichte beginnt im Jahr 1200 mit einer [[Stadt]].&lt;ref&gt;Quelle&lt;/ref&gt;
[[Kategorie:Beispiel]]</text></revision></page>
<page><title>Umleitung</title><ns>0</ns><redirect title="Ein Artikel"/><revision><text>#WEITERLEITUNG [[Ein Artikel]] und mehr Text hier</text></revision></page>
<page><title>Diskussion:Ein Artikel</title><ns>1</ns><revision><text>Eine Diskussion, die kein Artikel ist und nicht zählt.</text></revision></page>
</mediawiki>"""


def wikipedia_server(root, lang="de", md5=None):
    folder = root / f"{lang}wiki" / "latest"
    folder.mkdir(parents=True)
    dump = folder / f"{lang}wiki-latest-pages-articles.xml.bz2"
    dump.write_bytes(bz2.compress(PAGES.encode()))
    digest = md5 or hashlib.md5(dump.read_bytes()).hexdigest()
    (folder / f"{lang}wiki-latest-md5sums.txt").write_text(f"{digest}  {dump.name}\nabc  other-file.xml.bz2\n")


def test_wikipedia(tmp_path):
    wikipedia_server(tmp_path / "server")
    out = tmp_path / "wiki"
    download.main(["wikipedia", "--langs", "de", "--base-url", (tmp_path / "server").as_uri(), "--out", str(out)])
    assert (out / "wiki.de.txt").read_text().splitlines() == [
        "Ein Artikel ist ein Beitrag über etwas.",
        "Die Geschichte beginnt im Jahr 1200 mit einer Stadt.",
    ]
    assert (out / "cxlm-prepare.args").read_text() == f"--mono de:{out}/wiki.de.txt\n"


def test_wikipedia_checksum_mismatch(tmp_path, capsys):
    wikipedia_server(tmp_path / "server", md5="0" * 32)
    with pytest.raises(SystemExit):
        download.main(
            ["wikipedia", "--langs", "de", "--base-url", (tmp_path / "server").as_uri(), "--out", str(tmp_path / "w")]
        )
    assert "md5 differs from the published 000" in capsys.readouterr().err
    assert not (tmp_path / "w" / "wiki.de.txt").exists()


def opus_server(root, corpus, version, pair, lines):
    folder = root / f"OPUS-{corpus}" / version / "moses"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / f"{pair}.txt.zip", "w") as z:
        for lang, text in lines.items():
            z.writestr(f"{corpus}.{pair}.{lang}", text)
        z.writestr("README", "about the corpus")


def test_opus(tmp_path):
    server = tmp_path / "server"
    opus_server(server, "MultiUN", "v1", "en-fr", {"en": "Good morning.\nThank you.\n", "fr": "Bonjour.\nMerci.\n"})
    opus_server(server, "EUbookshop", "v2", "de-en", {"de": "Guten Morgen.\n", "en": "Good morning.\n"})
    out = tmp_path / "opus"
    download.main(["opus", "--langs", "fr,de", "--base-url", server.as_uri(), "--out", str(out)])
    assert (out / "en-fr.fr").read_text() == "Bonjour.\nMerci.\n"
    assert (out / "en-de.de").read_text() == "Guten Morgen.\n" and (out / "en-de.en").read_text() == "Good morning.\n"
    assert (out / "cxlm-prepare.args").read_text().splitlines() == [
        f"--para en-fr:{out}/en-fr.en,{out}/en-fr.fr",
        f"--para en-de:{out}/en-de.en,{out}/en-de.de",
    ]


def test_xnli(tmp_path):
    server = tmp_path / "server"
    server.mkdir()
    for name, member in (("XNLI-1.0", "xnli.dev.tsv"), ("XNLI-MT-1.0", "multinli/multinli.train.en.tsv")):
        with zipfile.ZipFile(server / f"{name}.zip", "w") as z:
            z.writestr(f"{name}/{member}", "header\n")
    out = tmp_path / "xnli"
    download.main(["xnli", "--base-url", server.as_uri(), "--out", str(out)])
    assert (out / "XNLI-1.0" / "xnli.dev.tsv").exists()
    assert (out / "XNLI-MT-1.0" / "multinli" / "multinli.train.en.tsv").exists()


@pytest.mark.skipif(not os.path.isdir(SHARED_TATOEBA), reason="../shared/data/tatoeba is not beside this checkout")
def test_tatoeba_from_a_mirror(tmp_path):
    out = tmp_path / "tatoeba"
    download.main(["tatoeba", "--langs", "de,zh", "--base-url", "file://" + SHARED_TATOEBA, "--out", str(out)])
    assert sorted(os.listdir(out)) == [
        "tatoeba.cmn-eng.cmn",
        "tatoeba.cmn-eng.eng",
        "tatoeba.deu-eng.deu",
        "tatoeba.deu-eng.eng",
    ]
    assert len((out / "tatoeba.deu-eng.deu").read_text().splitlines()) == 1000


def test_unknown_language(tmp_path, capsys):
    with pytest.raises(SystemExit):
        download.main(["opus", "--langs", "xx", "--out", str(tmp_path)])
    assert "--langs: xx; choose among" in capsys.readouterr().err


def test_xlm15(tmp_path):
    """The checkpoint, codes and vocabulary, verified and resumable as every download (a file:// mirror here)."""
    server = tmp_path / "server"
    server.mkdir()
    for name, content in (
        ("mlm_tlm_xnli15_1024.pth", b"\x80weights"),
        ("codes_xnli_15", b"a b 1\n"),
        ("vocab_xnli_15", b"a 1\n"),
    ):
        (server / name).write_bytes(content)
    out = tmp_path / "xlm15"
    download.main(["xlm15", "--base-url", server.as_uri(), "--out", str(out)])
    assert sorted(os.listdir(out)) == ["codes_xnli_15", "mlm_tlm_xnli15_1024.pth", "vocab_xnli_15"]
    assert (out / "codes_xnli_15").read_bytes() == b"a b 1\n"


def test_bucc(tmp_path):
    """The official archives' layout: bucc2018/<lang>-en/<lang>-en.<split>.<side>; resumable like the others."""
    import io
    import tarfile

    from fairseq_contrastive_xlm.evaluation import bucc

    server = tmp_path / "server"
    server.mkdir()
    files = {
        "sample-gold": {
            "sample.de": "de-1\tDatei öffnen\n",
            "sample.en": "en-1\tOpen file\n",
            "sample.gold": "de-1\ten-1\n",
        },
        "training-gold": {
            "training.de": "de-2\tSpeichern\n",
            "training.en": "en-2\tSave\n",
            "training.gold": "de-2\ten-2\n",
        },
        "test": {"test.de": "de-3\tSchließen\n", "test.en": "en-3\tClose\n"},
    }
    for split, members in files.items():
        with tarfile.open(server / f"bucc2018-de-en.{split}.tar.bz2", "w:bz2") as tar:
            for name, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(f"bucc2018/de-en/de-en.{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "bucc"
    download.main(["bucc", "--langs", "de", "--base-url", server.as_uri(), "--out", str(out)])
    download.main(["bucc", "--langs", "de", "--base-url", server.as_uri(), "--out", str(out)])  # again: nothing to do
    assert bucc.available_splits(str(out), "de") == ["sample", "training", "test"]
    training = bucc.read_split(str(out), "de", "training")
    assert training.gold == {("de-2", "en-2")} and training.foreign == {"de-2": "Speichern"}
