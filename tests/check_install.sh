#!/usr/bin/env bash
# The packaging check (make test runs it): what a user gets from `pip install .` and the pinned fairseq, in a
# virtual environment of its own that sees nothing of .venv. It proves that install_requires is whole (the base
# commands start and work without the extras) and that a missing extra is named in one line. It installs the
# base package only, with the versions of requirements.txt as constraints; the extras are what .venv tests.
#
#   tests/check_install.sh [VENV]     (default .venv-install-check)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${1:-.venv-install-check}
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.installed
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }
pip_quietly() { "$@" >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; fail "$* failed"; }; }

# The package is built from a copy of its files, so that setuptools' build/ stays out of the checkout.
mkdir "$WORK/src"
cp -r setup.py README.md fairseq_contrastive_xlm "$WORK/src/"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +

# The venv is built from nothing when it is missing or setup.py or a requirements file changed since; otherwise
# only the package is reinstalled, so the commands always run today's code with the dependencies it declares.
if [ ! -f "$STAMP" ] || [ -n "$(find setup.py requirements.txt requirements-fairseq.txt -newer "$STAMP")" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  pip_quietly "$VENV/bin/pip" install -c requirements.txt "$WORK/src"
  pip_quietly "$VENV/bin/pip" install --no-deps -r requirements-fairseq.txt
  touch "$STAMP"
else
  pip_quietly "$VENV/bin/pip" install --no-deps --force-reinstall "$WORK/src"
fi
BIN=$ROOT/$VENV/bin

# Nothing of the extras came in, so the lines below test what a base install does without them.
for module in transformers sentence_transformers faiss; do
  if "$BIN/python" -c "import $module" 2>/dev/null; then fail "$module is installed, but no extra asked for it"; fi
done
# Every declared requirement is met, but fairseq's own: it is installed --no-deps for the reasons of README.md.
broken=$("$BIN/pip" check 2>&1 | grep -v -e '^No broken' -e '^ve-fairseq .* requires \(cython\|torchaudio\),' || true)
[ -z "$broken" ] || fail "pip check: $broken"

# cxlm-prepare end to end on a small real corpus (the gettext catalogs' English and German), from outside the
# checkout, so that only the installed package is imported.
cd "$WORK"
"$BIN/cxlm-gettext-corpus" --langs de --max-pairs 600 --out raw >/dev/null 2>gettext.log || { cat gettext.log >&2; fail "cxlm-gettext-corpus failed"; }
"$BIN/cxlm-prepare" $(cat raw/cxlm-prepare.args) --vocab-size 300 --valid-size 50 --test-size 50 \
  --out data-bin >/dev/null 2>prepare.log || { cat prepare.log >&2; fail "cxlm-prepare failed"; }
for f in data-bin/dict.txt data-bin/spm.model data-bin/para/en-de/train.en-de.de.bin; do
  [ -s "$f" ] || fail "cxlm-prepare wrote no $f"
done
"$BIN/cxlm-retrieval" --help >/dev/null || fail "cxlm-retrieval --help failed"

# A command that needs an extra the user did not install: exit status 2 and one line naming the extra.
mkdir hf-folder && echo '{"model_type": "xlm-roberta"}' >hf-folder/config.json
expect_extra() {  # expect_extra EXTRA COMMAND...
  local extra=$1 status=0
  shift
  "$@" >out.log 2>err.log || status=$?
  [ "$status" = 2 ] || { cat err.log >&2; fail "$* exited with $status, not 2"; }
  [ "$(wc -l <err.log)" = 1 ] || { cat err.log >&2; fail "$* said more than one line"; }
  grep -q "pip install 'fairseq-contrastive-xlm\[$extra\]'" err.log || { cat err.log >&2; fail "$* did not name [$extra]"; }
}
expect_extra hf "$BIN/cxlm-import" hf hf-folder --out imported
printf 'eins\nzwei\ndrei\n' >src.txt && printf 'one\ntwo\nthree\n' >tgt.txt
"$BIN/python" -c "import numpy; [numpy.save(f, numpy.eye(3, 8, dtype='float16')) for f in ('src.npy', 'tgt.npy')]"
expect_extra mining "$BIN/cxlm-mine" --src src.txt --tgt tgt.txt --src-emb src.npy --tgt-emb tgt.npy --out mined.tsv
[ ! -e imported ] && [ ! -e mined.tsv ] || fail "a refused command left output behind"
echo "check_install: pip install . gives working cxlm-prepare and cxlm-retrieval; missing extras are named"
