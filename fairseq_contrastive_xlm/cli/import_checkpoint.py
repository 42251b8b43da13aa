"""cxlm-import: a pretrained model from elsewhere as a fairseq checkpoint of contrastive_xlm.

    cxlm-import xlm mlm_tlm_xnli15_1024.pth --codes codes_xnli_15 --out xlm15   # XLM's own format
    cxlm-import hf xlm-roberta-base --out xlmr               # a Hugging Face XLMRoberta folder (XLM-R, InfoXLM)

writes DIR/model.pt (continue it with --restore-file DIR/model.pt; read it with --checkpoint DIR/model.pt
--data DIR), DIR/dict.txt (the checkpoint's own dictionary) and DIR/model.args (the fairseq-train options
that build this model, one option and its value per line: fairseq-train ... $(cat DIR/model.args)); from
XLM also DIR/params.json (XLM's training options) and, with --codes, DIR/codes (cxlm-prepare --tokenizer xlm
--bpe-codes DIR/codes --dict DIR/dict.txt prepares data as XLM did); from Hugging Face DIR/spm.model (for
cxlm-prepare --spm-model --dict).
The folder appears whole or not at all.
"""

import argparse
import logging
import os
import shutil

from ..atomic import staged_directory, write_lines
from ..checkpoints import model_argv, write_checkpoint, write_dictionary
from ..errors import UserInputError
from ..interop import hf_import, hf_layout, xlm
from ..modules import SENTENCE_ENCODER
from ..tokenization import tokenizers
from ..tokenization.xlm_tokenizer import lowercases, read_codes, record_lowercase
from . import command

logger = logging.getLogger("cxlm-import")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-import", description=__doc__.split("\n\n")[0])
    sources = parser.add_subparsers(dest="source", required=True)
    from_xlm = sources.add_parser("xlm", help="a checkpoint in XLM's own format (.pth)")
    from_xlm.add_argument("path", help="the .pth file")
    from_xlm.add_argument("--out", required=True, help="the folder to write")
    from_xlm.add_argument(
        "--codes", help="the model's BPE codes: copied into the folder, which then tokenizes as XLM (Moses + BPE)"
    )
    from_xlm.add_argument("--force", action="store_true", help="replace --out if it exists")
    from_hf = sources.add_parser("hf", help="a Hugging Face XLMRobertaModel / XLMRobertaForMaskedLM folder")
    from_hf.add_argument("path", help="the folder (config.json, model.safetensors, sentencepiece.bpe.model)")
    from_hf.add_argument("--out", required=True, help="the folder to write")
    from_hf.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser.parse_args(argv)


MODEL_ARGS_FILE = "model.args"


def write_model_args(folder: str):
    """folder/model.args: the options that build folder/model.pt's model, an option and its value a line."""
    lines = []
    for word in model_argv(os.path.join(folder, "model.pt")):
        if word.startswith("--") or not lines:
            lines.append(word)
        else:
            lines[-1] += " " + word
    write_lines(os.path.join(folder, MODEL_ARGS_FILE), lines)


def import_xlm(args):
    if args.codes:
        read_codes(args.codes)  # a clear error before any work
    checkpoint = xlm.load_xlm(args.path)
    state, options, words = xlm.convert(checkpoint, args.path)
    with staged_directory(args.out, args.force) as staging:
        write_dictionary(os.path.join(staging, "dict.txt"), words)
        xlm.write_params(os.path.join(staging, "params.json"), checkpoint["params"])
        if args.codes:
            shutil.copy(args.codes, os.path.join(staging, tokenizers.CODES_FILE))
            record_lowercase(staging, lowercases(checkpoint["params"]))  # XLM-17 and XLM-100 are cased
        # The recorded data directory is the final one, so that --checkpoint works without --data too.
        write_checkpoint(os.path.join(staging, "model.pt"), os.path.abspath(args.out), options, state)
        write_model_args(staging)
    logger.info(
        "%s: %d layers, %d wide, %d words, languages %s -> %s",
        args.path,
        options["encoder_layers"],
        options["encoder_embed_dim"],
        len(words),
        options["langs"] or "none",
        os.path.join(args.out, "model.pt"),
    )


def import_hf(args):
    config, weights = hf_import.read_folder(args.path)
    state, options = hf_import.hf_to_ours(config, weights, args.path)
    spm_model = os.path.join(args.path, hf_layout.HF_SPM_FILE)
    if not os.path.isfile(spm_model):
        raise UserInputError(f"{spm_model} is missing: the dictionary is made from XLM-R's SentencePiece model")
    rows = state[SENTENCE_ENCODER + "embed_tokens.weight"].size(0)
    words = hf_import.sentencepiece_words(spm_model, rows, args.path)
    with staged_directory(args.out, args.force) as staging:
        write_dictionary(os.path.join(staging, "dict.txt"), words)
        shutil.copy(spm_model, os.path.join(staging, tokenizers.SPM_FILE))
        write_checkpoint(os.path.join(staging, "model.pt"), os.path.abspath(args.out), options, state)
        write_model_args(staging)
    logger.info(
        "%s: %d layers, %d wide, %d pieces -> %s",
        args.path,
        options["encoder_layers"],
        options["encoder_embed_dim"],
        len(words),
        os.path.join(args.out, "model.pt"),
    )


@command("cxlm-import")
def main(argv=None):
    args = parse_args(argv)
    {"xlm": import_xlm, "hf": import_hf}[args.source](args)


if __name__ == "__main__":
    main()
