"""Console commands (cxlm-*). Each reports bad input as one line and exits with status 2."""

import functools
import logging
import sys

from ..errors import UserInputError


def command(prog):
    """Wrap a main(argv) so UserInputError becomes 'prog: error: message' and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            logging.basicConfig(
                format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                level=logging.INFO,
                stream=sys.stderr,
                force=True,  # replace the handler fairseq's import installed
            )
            try:
                main(argv)  # console scripts pass a returned value to sys.exit: return nothing
            except UserInputError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                sys.exit(2)

        return run

    return wrap
