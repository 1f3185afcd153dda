"""DVC stage `check_params`: validate the whole params.yaml whenever any of it changes.

Every other stage tracks only the keys it reads, so a misspelt key (`train.epoch: 50`)
would change no tracked param and `dvc repro` would report "up to date". This stage
tracks the whole file, so any edit reruns it, and an invalid file fails the repro.
"""

import sys

from gantrack.config import PARAMS_FILE, ConfigError, load_params


def main() -> None:
    try:
        load_params(PARAMS_FILE)
    except ConfigError as error:
        print(f"gantrack check_params: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{PARAMS_FILE}: valid")


if __name__ == "__main__":
    main()
