"""`askpro report`: writes the file and prints its path; a bad tenant or week is one line and exit 2."""

import datetime as dt

from askpro_pipelines.cli import main
from askpro_pipelines.report.week import last_complete_week
from tests.report.week_rows import TENANT


def test_writes_the_week_and_prints_the_path(filled_sqlite, report_tenants_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "--tenant", TENANT, "--week", "2026-W48", "--out", str(out)]) == 0
    path = out / TENANT / "2026-W48.html"
    assert capsys.readouterr().out.strip() == str(path)
    html = path.read_text(encoding="utf-8")
    assert "weekly report 2026-W48" in html and "<b>44</b>inbound calls" in html
    # Written again in place, atomically: no temporary file left beside it.
    assert main(["report", "--tenant", TENANT, "--week", "2026-W48", "--out", str(out)]) == 0
    assert [p.name for p in (out / TENANT).iterdir()] == ["2026-W48.html"]


def test_default_week_and_folder(filled_sqlite, report_tenants_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_REPORT_DIR", str(tmp_path / "reports-here"))
    assert main(["report", "--tenant", TENANT]) == 0
    week = last_complete_week("Europe/Berlin", dt.datetime.now(dt.UTC))
    expected = tmp_path / "reports-here" / TENANT / f"{week}.html"
    assert capsys.readouterr().out.strip() == str(expected) and expected.is_file()

    monkeypatch.delenv("ASKPRO_REPORT_DIR")
    monkeypatch.setenv("ASKPRO_DATA_DIR", str(tmp_path / "data"))
    assert main(["report", "--tenant", TENANT, "--week", "2026-W48"]) == 0
    assert (tmp_path / "data" / "reports" / TENANT / "2026-W48.html").is_file()


def _one_line_error(capsys, *needles: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("askpro report: error:"), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert captured.out == ""


def test_unknown_tenant(filled_sqlite, report_tenants_file, tmp_path, capsys):
    assert main(["report", "--tenant", "nobody", "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "unknown tenant 'nobody'")
    assert not (tmp_path / "out").exists()


def test_malformed_week(filled_sqlite, report_tenants_file, tmp_path, capsys):
    try:
        status = main(["report", "--tenant", TENANT, "--week", "2026-48", "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse refuses the value before any command runs
        status = exc.code
    assert status == 2
    _one_line_error(capsys, "2026-48", "ISO week")


def test_week_not_begun(filled_sqlite, report_tenants_file, tmp_path, capsys):
    next_year = dt.date.today().year + 1
    assert main(["report", "--tenant", TENANT, "--week", f"{next_year}-W10", "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "has not begun")
    assert not (tmp_path / "out").exists()
