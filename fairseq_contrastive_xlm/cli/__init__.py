"""Console commands (cxlm-*). Each reports bad input as one line and exits with status 2; importing the
package has applied the shims of compat.py (log format, known warnings) to every one of them."""

import functools
import json
import os
import sys

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
    """Write obj as JSON under a temporary name, then rename: a reader never sees a half-written file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
    os.replace(partial, path)
