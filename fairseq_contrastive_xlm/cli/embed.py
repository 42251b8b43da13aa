"""cxlm-embed: sentence embeddings of text files, written as memory-mappable .npy matrices.

    cxlm-embed --checkpoint checkpoints/checkpoint_best.pt --data data-bin --input news.de --lang de --out news.de.npy
    cxlm-embed ... --input a.txt b.txt --out a.npy b.npy --dtype float32

Each output is a standard NumPy .npy file of (lines x dimensions), row i the embedding of line i (first-token,
max or mean pooling of a layer, as the model's --ntxent-pooling/--ntxent-layer unless --pooling/--layer say
otherwise; --projection for the NT-Xent head's space). Read it without loading it into memory:

    x = numpy.load("news.de.npy", mmap_mode="r")   # x[i] is line i

Lines are embedded a chunk at a time, sorted by length within it, and written as they go: memory stays bounded
whatever the file's size, and the file appears under its name only once complete.
"""

import argparse
import time

from ..errors import UserInputError
from ..evaluation.embedding import embed_file
from . import command
from .inputs import check_embedder_options, embedder_from, embedder_options


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-embed", description=__doc__.split("\n\n")[0])
    embedder_options(parser)
    parser.add_argument("--input", nargs="+", required=True, help="text files, one sentence per line")
    parser.add_argument("--lang", help="their language (for models with language embeddings)")
    parser.add_argument("--out", nargs="+", required=True, help="one .npy file per input")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16", help="default float16")
    parser.add_argument("--chunk", type=int, default=50_000, help="lines read and embedded at a time (default 50000)")
    args = parser.parse_args(argv)
    check_embedder_options(parser, args)
    if len(args.input) != len(args.out):
        raise UserInputError(f"{len(args.input)} --input files but {len(args.out)} --out files: give one each")
    if any(not out.endswith(".npy") for out in args.out):
        raise UserInputError("every --out must end in .npy")
    return args


@command("cxlm-embed")
def main(argv=None):
    args = parse_args(argv)
    embedder = embedder_from(args)
    for path, out in zip(args.input, args.out):
        began = time.perf_counter()
        lines = embed_file(embedder, path, out, args.lang, args.dtype, args.chunk, args.batch_size)
        seconds = time.perf_counter() - began
        print(f"wrote {out}: {lines} x {embedder.dimensions} {args.dtype} ({lines / seconds:.0f} sentences/s)")
    embedder.report_truncated("cxlm-embed")


if __name__ == "__main__":
    main()
