"""ClickHouse 26.9 as a real server (HTTP + native), out of the chdb-core wheel.

    python chdb_server.py DIR

DIR holds config.xml (ports, logger, user directories) and users.xml (and users.d/),
written by scripts/services or a test; data goes to DIR/data. The listeners live as long
as the query that keeps them open: this process runs until SIGTERM/SIGINT.
users.xml is read at start only: restart the process to change users.
"""

import os
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: chdb_server.py DIR", file=sys.stderr)
        return 2
    folder = os.path.abspath(sys.argv[1])
    os.chdir(folder)
    import chdb._chdb as engine  # importing chdb changes the working directory

    os.chdir(folder)
    engine.query(
        "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
        "SELECT sleepEachRow(1) FROM numbers(1000000000) "
        "SETTINGS max_block_size = 1, function_sleep_max_microseconds_per_block = 0 "
        "FORMAT Null",
        "TSV",
        path=os.path.join(folder, "data"),
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
