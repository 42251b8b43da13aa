"""cxlm-perplexity: MLM perplexity per language and TLM perplexity per pair, never mixed with NT-Xent.

    cxlm-perplexity --checkpoint checkpoints/checkpoint_best.pt --data data-bin --split test \\
        --mlm-langs en,de,fr --tlm-pairs en-de,en-fr --json ppl.json

By default the languages and pairs the checkpoint was trained on. The masks of a validation or test split
are fixed, so two checkpoints are compared on exactly the same predictions. Beside perplexity, bits per
character (bpc: the loss in bits times the split's tokens per character, as cxlm-prepare recorded them in
DATA/manifest.json), which compares models of different tokenizers; '-' where the manifest records no characters.
"""

import argparse
import math
import os

from ..checkpoints import load
from ..criterions.masked_lm_ntxent import MaskedLmNTXentConfig, MaskedLmNTXentLoss
from ..errors import UserInputError
from ..evaluation.perplexity import bits_per_character, masked_lm_loss, perplexity, split_lengths
from . import command, write_json


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-perplexity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint of the cross_lingual_lm_contrastive task")
    parser.add_argument("--data", required=True, help="the data directory")
    parser.add_argument("--split", default="valid", help="valid or test (default valid)")
    parser.add_argument("--mlm-langs", help="comma-separated languages (default: the checkpoint's)")
    parser.add_argument("--tlm-pairs", help="comma-separated pairs (default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per batch (default 32)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--cpu", action="store_true", help="use the CPU even if a GPU is present")
    return parser.parse_args(argv)


@command("cxlm-perplexity")
def main(argv=None):
    args = parse_args(argv)
    overrides = {"ntxent_pairs": "none"}  # views are not scored here
    if args.mlm_langs is not None:
        overrides["mlm_langs"] = args.mlm_langs
    if args.tlm_pairs is not None:
        overrides["tlm_pairs"] = args.tlm_pairs
    model, task, _ = load(args.checkpoint, data=args.data, cpu=args.cpu, **overrides)
    if not hasattr(task, "mlm_langs"):
        raise UserInputError(f"{args.checkpoint} was not trained with the cross_lingual_lm_contrastive task")
    task.load_dataset(args.split)
    objectives = task.datasets[args.split].objectives
    criterion = MaskedLmNTXentLoss(MaskedLmNTXentConfig(), task)
    rows = {}
    for kind, names in (("mlm", task.mlm_langs), ("tlm", ["-".join(p) for p in task.tlm_pairs])):
        for name, dataset in zip(names, objectives.get(kind, [])):
            loss, tokens = masked_lm_loss(model, criterion, dataset, args.batch_size)
            lengths = split_lengths(args.data, kind, name, args.split)
            rows[f"{kind} {name}"] = {
                "objective": kind,
                "name": name,
                # TLM pairs longer than the model's --tokens-per-sample cannot be scored whole: counted here and
                # logged when loaded, never silently left out
                **({"pairs_too_long": dataset.corpus.dropped} if kind == "tlm" else {}),
                "masked_tokens": tokens,
                "loss_bits": loss / max(tokens, 1) / math.log(2),
                "ppl": perplexity(loss, tokens),
                "bpc": bits_per_character(loss, tokens, *lengths) if lengths else None,
            }
    if not rows:
        raise UserInputError("nothing to score: give --mlm-langs and/or --tlm-pairs")
    print(f"{'':<14}{'masked':>8}{'loss (bits)':>13}{'ppl':>10}{'bpc':>8}")
    for key, row in rows.items():
        bpc = "-" if row["bpc"] is None else f"{row['bpc']:.3f}"
        print(f"{key:<14}{row['masked_tokens']:>8}{row['loss_bits']:>13.3f}{row['ppl']:>10.2f}{bpc:>8}")
    if args.json:
        write_json(args.json, {"checkpoint": os.path.abspath(args.checkpoint), "split": args.split, "results": rows})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
