"""The application inside the test images: reads a YAML document, prints it as JSON.

It imports its dependencies by name so that the repository's type checker needs none of them.
"""

import importlib
import json
import sys
from pathlib import Path

USAGE = """Usage: app.py [FILE]

Reads FILE (standard input when left out) as YAML and prints it as JSON."""


def main(argv: list[str]) -> int:
    docopt = importlib.import_module("docopt")
    yaml = importlib.import_module("yaml")
    idna = importlib.import_module("idna")
    args = docopt.docopt(USAGE, argv=argv)
    text = Path(args["FILE"]).read_text(encoding="utf-8") if args["FILE"] else sys.stdin.read()
    data = yaml.safe_load(text)
    print(json.dumps({"data": data, "libyaml": bool(yaml.__with_libyaml__)}))
    print(idna.encode("bücher.example").decode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
