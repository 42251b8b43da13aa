"""cxlm-embed-plot: a 2-D map of sentence embeddings coloured by language, translations joined by a line.

    cxlm-embed-plot --checkpoint checkpoints/checkpoint_best.pt --data data-bin --tatoeba data/tatoeba \\
        --langs de,fr,ru --sentences 200 --out embeddings.png

For each language, N sentences and their English translations are embedded and projected together (PCA by
default, --method tsne for t-SNE). Where languages overlap and the joining lines are short, translations
sit together; separate islands per language mean the space is not shared.
"""

import argparse

import numpy as np

from ..evaluation import plots
from . import command
from .inputs import check_embedder_options, check_pair_options, embedder_from, embedder_options, pair_options, pair_sets


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-embed-plot", description=__doc__.split("\n\n")[0])
    embedder_options(parser)
    pair_options(parser, "default: de,fr,ru,zh where present")
    parser.add_argument("--sentences", type=int, default=200, help="sentences per language (default 200)")
    parser.add_argument("--method", choices=["pca", "tsne"], default="pca", help="2-D projection (default pca)")
    parser.add_argument("--seed", type=int, default=1, help="t-SNE seed")
    parser.add_argument("--out", required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    check_embedder_options(parser, args)
    check_pair_options(parser, args)
    return args


def project(vectors: np.ndarray, method: str, seed: int) -> np.ndarray:
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = max(5, min(30, (len(vectors) - 1) // 3))
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(vectors)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T


@command("cxlm-embed-plot")
def main(argv=None):
    args = parse_args(argv)
    sets = pair_sets(args, default_langs=("de", "fr", "ru", "zh"))
    embedder = embedder_from(args)
    vectors, groups, links = [], [], []
    for source, target, source_lang, target_lang in sets.values():
        n = min(args.sentences, len(source))
        start = sum(len(v) for v in vectors)
        vectors.append(embedder.embed(source[:n], source_lang, args.batch_size))
        vectors.append(embedder.embed(target[:n], target_lang, args.batch_size))
        groups += [source_lang] * n + [target_lang] * n
        links += [(start + i, start + n + i) for i in range(n)]
    embedder.report_truncated("cxlm-embed-plot")
    vectors = np.concatenate(vectors)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # cosine geometry
    points = project(vectors, args.method, args.seed)
    pairs = np.array(links)
    translation = float(np.mean(np.sum(vectors[pairs[:, 0]] * vectors[pairs[:, 1]], axis=1)))
    shuffled = np.random.default_rng(args.seed).permutation(len(pairs))
    unrelated = float(np.mean(np.sum(vectors[pairs[:, 0]] * vectors[pairs[shuffled, 1]], axis=1)))
    title = (
        f"{args.method.upper()} of {len(vectors)} sentence embeddings "
        f"(translation cos {translation:.2f}, random {unrelated:.2f})"
    )
    path = plots.embedding_map(points, groups, args.out, title, links=pairs)
    print(f"mean cosine: translations {translation:.3f}, unrelated pairs {unrelated:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
