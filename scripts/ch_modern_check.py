"""Run SQL files on ClickHouse 26.9 (chdb) statement by statement; see ch-modern-check."""

import pathlib
import sys
import tempfile

PARSE_ONLY = "cairn-check: parse-only"
EXPECT_ROWS = "cairn-check: expect-rows"


def split_statements(text):
    """Split SQL text on ';' outside quotes, backquotes and comments.

    Yields (statement, directives) where directives are the cairn-check comments that
    precede the statement.
    """
    stmt, directives, i, n = [], set(), 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            stmt.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comment = text[i:j]
            for d in (PARSE_ONLY, EXPECT_ROWS):
                if d in comment:
                    directives.add(d)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            s = "".join(stmt).strip()
            if s:
                yield s, directives
            stmt, directives = [], set()
            i += 1
        else:
            stmt.append(c)
            i += 1
    s = "".join(stmt).strip()
    if s:
        yield s, directives


def main(dirs):
    from chdb import session

    files = []
    for d in dirs:
        p = pathlib.Path(d)
        if not p.is_dir():
            print(f"ch-modern-check: {d} is not a folder", file=sys.stderr)
            return 2
        files.extend(sorted(p.glob("*.sql")))
    if not files:
        print(f"ch-modern-check: no *.sql files in {' '.join(dirs)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cairn-chdb-") as tmp:
        sess = session.Session(tmp)
        version = sess.query("SELECT version()", "TSV").data().strip()
        total = 0
        for f in files:
            text = f.read_text(encoding="utf-8")
            parse_only = PARSE_ONLY in text.split("\n", 1)[0]
            count = 0
            for number, (stmt, directives) in enumerate(split_statements(text), start=1):
                sql = f"EXPLAIN AST {stmt}" if parse_only else stmt
                try:
                    res = sess.query(sql, "TSV")
                    if EXPECT_ROWS in directives and not res.data().strip():
                        raise RuntimeError("expected at least one row, got none")
                except Exception as e:  # chdb raises its own error types
                    head = stmt if len(stmt) < 600 else stmt[:600] + " …"
                    print(
                        f"ch-modern-check: {f}: statement {number} failed on ClickHouse {version}:\n"
                        f"{head}\n--> {str(e).strip().splitlines()[0]}",
                        file=sys.stderr,
                    )
                    return 1
                count += 1
            total += count
            mode = "parsed" if parse_only else "ran"
            print(f"ch-modern-check: {f.name}: {mode} {count} statements")
        print(f"ch-modern-check: OK, {total} statements in {len(files)} files on ClickHouse {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
