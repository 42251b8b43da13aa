"""Console commands (cxlm-*). Each reports bad input as one line and exits with status 2; importing the
package has applied the shims of compat.py (log format, known warnings) to every one of them."""

import functools
import json
import sys

from ..atomic import atomic_path
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


def write_json(path, obj):
    """Write obj as JSON to path, whole or not at all (under PATH.partial, then renamed)."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
