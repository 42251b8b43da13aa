"""Console commands (cxlm-*). Each reports bad input as one line and exits with status 2; importing the
package has applied the shims of compat.py (log format, known warnings) to every one of them."""

import functools
import sys

from ..atomic import write_json  # noqa: F401  the commands' one way to write JSON (re-exported for them)
from ..errors import UserInputError


def command(prog):
    """Wrap a main(argv) so UserInputError becomes 'prog: error: message' and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                main(argv)  # console scripts pass a returned value to sys.exit: return nothing
            except UserInputError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                sys.exit(2)

        return run

    return wrap
